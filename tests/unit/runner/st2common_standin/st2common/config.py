"""st2common.config (stand-in): ``parse_args`` reads st2.conf into cfg.CONF in st2;
here it records the arguments."""

PARSED = []


def parse_args(args=None, ignore_errors=False):
    PARSED.append(list(args or []))
