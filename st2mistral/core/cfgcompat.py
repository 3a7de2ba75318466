# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""oslo.config options that work from st2's oldest pin (1.12.1) to today's.

st2 up to 3.8 pins oslo.config 1.12, which has no ``URIOpt``, no ``min=`` on
``IntOpt``/``FloatOpt`` and takes neither ``description=`` nor
``default_config_dirs=`` when parsing. With a modern oslo.config the real classes
and arguments are used unchanged (so the generated sample config stays the same);
with an old one an option whose type does the same checks stands in, and the
arguments it does not know are left out (they only shape ``--help`` and add
config directories 1.12 never searches).
"""

import inspect
import urllib.parse

from oslo_config import cfg
from oslo_config import types

MODERN = hasattr(cfg, 'URIOpt')


def _check_range(value, minimum, maximum):
    if value is not None and minimum is not None and value < minimum:
        raise ValueError('Should be greater than or equal to %s' % minimum)
    if value is not None and maximum is not None and value > maximum:
        raise ValueError('Should be less than or equal to %s' % maximum)
    return value


class _Ranged:
    """Mixed into a number type: converts, then checks ``min <= value <= max``."""

    # oslo.config 1.12's own check skips min=0 (it tests ``if self.min``).
    def __init__(self, min=None, max=None):
        super().__init__()
        self.range = (min, max)

    def __call__(self, value):
        return _check_range(super().__call__(value), *self.range)


class _Integer(_Ranged, types.Integer):
    pass


class _Float(_Ranged, types.Float):
    pass


class _URI(types.String):
    def __init__(self, schemes=None):
        super().__init__()
        self.schemes = schemes

    def __call__(self, value):
        value = super().__call__(value)
        parts = urllib.parse.urlparse(value)
        if not (parts.scheme and parts.netloc):
            raise ValueError('invalid URI: %r' % value)
        if self.schemes and parts.scheme not in self.schemes:
            raise ValueError('URI scheme must be one of %s: %r' % (self.schemes, value))
        return value


def IntOpt(name, min=None, max=None, **kwargs):
    if MODERN:
        return cfg.IntOpt(name, min=min, max=max, **kwargs)
    return cfg.Opt(name, type=_Integer(min, max), **kwargs)


def FloatOpt(name, min=None, max=None, **kwargs):
    if MODERN:
        return cfg.FloatOpt(name, min=min, max=max, **kwargs)
    return cfg.Opt(name, type=_Float(min, max), **kwargs)


def URIOpt(name, schemes=None, **kwargs):
    if MODERN:
        return cfg.URIOpt(name, schemes=schemes, **kwargs)
    return cfg.Opt(name, type=_URI(schemes), **kwargs)


class FlagOpt(cfg.BoolOpt):
    """A command-line switch: ``--name`` only. oslo.config adds ``--noname`` to
    every BoolOpt, which for ``--no-stream`` reads ``--nono-stream``."""

    def _add_inverse_to_argparse(self, *args, **kwargs):
        pass


def parse(conf, args, **kwargs):
    """``conf(args, **kwargs)`` without the keyword arguments this oslo.config lacks."""
    known = inspect.signature(conf.__call__).parameters
    return conf(args, **{k: v for k, v in kwargs.items() if k in known})
