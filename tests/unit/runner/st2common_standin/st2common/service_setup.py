"""st2common.service_setup (stand-in): ``db_setup`` connects to MongoDB in st2;
here it counts the calls."""

DB_SETUPS = []


def db_setup(ensure_indexes=True):
    DB_SETUPS.append(ensure_indexes)
