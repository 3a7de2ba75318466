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

"""Fails (exit 1, one line per finding) when the code breaks the layout's rules.

* st2's own code (st2common) is imported only by st2mistral/st2_side/st2_adapter.py:
  everything else must import without st2 installed.
* The sides stay apart: st2mistral/core imports neither side, the Mistral side
  does not import the st2 side nor the other way round, and no product module
  imports st2mistral.testing.
* Tests and test support wait through st2mistral.testing.waiting.wait_until, not
  with a hand-written loop that sleeps (a loop whose body calls ``sleep`` or
  ``Event().wait``); a loop that models a retry says so with ``# loop-ok: <why>``
  on the line above it.
* No file of st2mistral/ is over 600 lines.

Usage: python tools/check_layout.py [REPO]   (run by tox -e style)
"""

import ast
import pathlib
import sys

ST2_ADAPTER = 'st2mistral/st2_side/st2_adapter.py'
WAITING = 'st2mistral/testing/waiting.py'
MAX_LINES = 600
# What each folder of the product may not import.
FORBIDDEN = {
    'st2mistral/core/': ('st2mistral.mistral_side', 'st2mistral.st2_side', 'st2mistral.testing'),
    'st2mistral/mistral_side/': ('st2mistral.st2_side', 'st2mistral.testing'),
    'st2mistral/st2_side/': ('st2mistral.mistral_side', 'st2mistral.testing'),
}


def imported_modules(tree):
    """(line, names) per import statement: ``from a.b import c`` names a.b and a.b.c."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, [node.module] + ['%s.%s' % (node.module, alias.name)
                                                for alias in node.names]


def node_is_loop(node):
    return isinstance(node, (ast.While, ast.For))


def _is_sleep(call):
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)
    if name == 'sleep':
        return True
    # threading.Event().wait(0.01): a sleep in disguise
    return (name == 'wait' and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
            and getattr(func.value.func, 'attr', getattr(func.value.func, 'id', None)) == 'Event')


def sleeping_loops(tree, lines):
    for node in ast.walk(tree):
        # '# loop-ok: <why>' on the line above: a loop that models a retry, not a wait
        if node_is_loop(node) and 'loop-ok:' not in lines[node.lineno - 2]:
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, ast.Call) and _is_sleep(sub):
                        yield node.lineno
                        break
                else:
                    continue
                break


def check_file(rel, text):
    problems = []
    tree = ast.parse(text, rel)
    if rel.startswith('st2mistral/') and not rel.startswith('st2mistral/testing/'):
        for lineno, names in imported_modules(tree):
            st2common = [n for n in names if n.split('.')[0] == 'st2common']
            if st2common and rel != ST2_ADAPTER:
                problems.append('%s:%d imports %s: only %s imports st2common'
                                % (rel, lineno, st2common[0], ST2_ADAPTER))
            for folder, banned in FORBIDDEN.items():
                crossing = [n for n in names if n.startswith(banned)]
                if rel.startswith(folder) and crossing:
                    problems.append('%s:%d imports %s: %s may not import %s'
                                    % (rel, lineno, crossing[0], folder, ' or '.join(banned)))
    if rel.startswith(('tests/', 'st2mistral/testing/')) and rel != WAITING:
        for lineno in sleeping_loops(tree, text.splitlines()):
            problems.append('%s:%d waits in a hand-written loop: use '
                            'st2mistral.testing.waiting.wait_until' % (rel, lineno))
    if rel.startswith('st2mistral/') and text.count('\n') > MAX_LINES:
        problems.append('%s has %d lines: split it (at most %d)'
                        % (rel, text.count('\n'), MAX_LINES))
    return problems


def main(argv):
    root = pathlib.Path(argv[1] if len(argv) > 1 else '.').resolve()
    problems = []
    for path in sorted(root.glob('st2mistral/**/*.py')) + sorted(root.glob('tests/**/*.py')):
        rel = path.relative_to(root).as_posix()
        if '/st2common_standin/' in rel:
            continue   # a stand-in of st2common for unit tests
        problems.extend(check_file(rel, path.read_text(encoding='utf-8')))
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
