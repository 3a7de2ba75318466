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

"""Install st2mistral into a virtualenv holding st2's (or Mistral's) pinned
packages and prove that pip changed none of them.

    python tools/st2_pins.py tests/st2-pins/v3.9.0 -- .
    python tools/st2_pins.py tests/mistral-pins/upper-constraints-2024.1.txt \
        -- -c tests/mistral-pins/upper-constraints-2024.1.txt -e '.[mistral]'

runs ``pip install <args after -->`` with this interpreter, then fails (exit 1,
one line per package) when pip upgraded, downgraded or removed any package
that was installed before, or when an installed package differs from a
``name==version`` pin of the st2 pins folder (constraints.txt and
requirements.txt) or of a pins file (an OpenStack series' upper-constraints.txt,
``name===version;marker``). Prints the pip command, the Python version and
``pins unchanged: ...`` when all holds. Runs on Python 3.8 (st2's).
"""

import argparse
import os
import re
import subprocess
import sys

try:
    from importlib import metadata
except ImportError:  # pragma: no cover - Python < 3.8 is not supported
    sys.exit('Python 3.8 or later is needed')


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def installed():
    """{canonical name: version} of the packages this interpreter sees."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata['Name']
        if name:
            found.setdefault(canonical(name), dist.version)
    return found


def read_pins(folder):
    """{canonical name: version} of every ``name==version`` line (markers honoured).

    ``folder`` holds constraints.txt and requirements.txt (st2's), or is one file.
    """
    pins = {}
    paths = [folder] if os.path.isfile(folder) else [
        os.path.join(folder, filename) for filename in ('constraints.txt', 'requirements.txt')]
    for path in paths:
        with open(path, encoding='utf-8') as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                match = re.match(r'^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*===?\s*([^\s;]+)\s*(;.*)?$',
                                 line)
                if match and marker_holds(match.group(4)):
                    pins[canonical(match.group(1))] = match.group(3)
    return pins


def marker_holds(marker):
    """The few environment markers st2's files use (python_version, platform_system)."""
    if not marker:
        return True
    import platform
    env = {'python_version': '%d.%d' % sys.version_info[:2],
           'platform_system': platform.system()}
    match = re.match(r'^;\s*(\w+)\s*(==|!=|<|<=|>|>=)\s*["\']([^"\']+)["\']\s*$', marker)
    if not match or match.group(1) not in env:
        raise SystemExit('unsupported marker in the pins: %r' % marker)
    left, op, right = env[match.group(1)], match.group(2), match.group(3)
    if match.group(1) == 'python_version':
        left, right = tuple(map(int, left.split('.'))), tuple(map(int, right.split('.')))
    return {'==': left == right, '!=': left != right, '<': left < right,
            '<=': left <= right, '>': left > right, '>=': left >= right}[op]


def compare(before, after, pins, ignore=()):
    """Problems (one line each): changed or removed packages, pins not held."""
    problems = []
    for name, version in sorted(before.items()):
        if name in ignore:
            continue
        if name not in after:
            problems.append('%s %s was removed' % (name, version))
        elif after[name] != version:
            problems.append('%s changed %s -> %s' % (name, version, after[name]))
    for name, version in sorted(pins.items()):
        if name in after and name not in ignore and after[name] != version:
            problems.append('%s is %s, pinned %s' % (name, after[name], version))
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('pins', help='folder with constraints.txt and requirements.txt,'
                        ' or one constraints file')
    parser.add_argument('--ignore', action='append', default=[],
                        help='a package not checked (test tools st2 also pins)')
    argv = sys.argv[1:] if argv is None else list(argv)
    if '--' not in argv:
        parser.error('give the arguments of pip install after --')
    at = argv.index('--')
    args, pip_args = parser.parse_args(argv[:at]), argv[at + 1:]
    pins = read_pins(args.pins)
    ignore = {canonical(n) for n in args.ignore}
    before = installed()
    command = [sys.executable, '-m', 'pip', 'install'] + pip_args
    print('$ pip install %s' % ' '.join(pip_args), flush=True)
    if subprocess.run(command).returncode != 0:
        print('pip install %s failed (its output is above)' % ' '.join(pip_args))
        return 1
    after = installed()
    print('Python %s' % sys.version.split()[0])
    problems = compare(before, after, pins, ignore)
    added = sorted(set(after) - set(before))
    print('added: %s' % (', '.join('%s %s' % (n, after[n]) for n in added) or 'nothing'))
    if problems:
        print('pins CHANGED (%s):' % args.pins)
        for problem in problems:
            print('  ' + problem)
        return 1
    held = sorted(n for n in pins if n in after and n not in ignore)
    print('pins unchanged: %d pinned packages of %s checked, %d packages untouched'
          % (len(held), args.pins, len(before)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
