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

"""st2mistral-validate PATH...: check mistral-v2 workflows before moving to st2 3.3+.

st2 3.2 checked a mistral-v2 definition when an action was created or registered
(st2common/st2common/validators/workflow/mistral/v2.py at v3.2.0): Mistral's own
validation, one workflow per non-workbook definition, and its DSL transform's
checks of st2 action tasks (missing or unexpected parameters, ``st2.callback``,
st2kv mixed with the workflow's context). st2 3.3+ has no such hook. This command
reports those problems plus what Mistral 23's spec parser refuses (when Mistral
is importable, i.e. run in Mistral's virtualenv), one line per problem::

    <file>: <workflow>.<task>: <message>

PATH is a definition file, an action metadata file, a pack or a directory of
packs. Exit status: 0 no problem, 1 a problem (an unreadable file is one),
2 bad usage.
"""

import argparse
import copy
import os
import sys
import warnings

import yaml

from st2mistral.st2_side import definitions

MISTRAL_RUNNER = 'mistral-v2'
_YAML_SUFFIXES = ('.yaml', '.yml')


class Problem:
    def __init__(self, path, where, message):
        self.path, self.where, self.message = path, where, message

    def __str__(self):
        where = ('%s: ' % self.where) if self.where else ''
        return '%s: %s%s' % (self.path, where, ' '.join(str(self.message).split()))


# -- reading packs -----------------------------------------------------------------


def _read_yaml(path):
    """(document, None) or (None, message)."""
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8')
    except (OSError, UnicodeDecodeError) as e:
        return None, 'cannot read the file: %s' % (e.strerror if isinstance(e, OSError)
                                                    and e.strerror else e)
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as e:
        return None, 'not valid YAML: %s' % ' '.join(str(e).split())


def _is_action_metadata(doc):
    return isinstance(doc, dict) and 'runner_type' in doc and 'name' in doc


def _pack_name(pack_dir):
    doc, _ = _read_yaml(os.path.join(pack_dir, 'pack.yaml'))
    if isinstance(doc, dict):
        name = doc.get('ref') or doc.get('name')
        if isinstance(name, str) and name:
            return name
    return os.path.basename(os.path.normpath(pack_dir))


class Action:
    def __init__(self, ref, runner, parameters, metadata_path, entry_point):
        self.ref, self.runner, self.parameters = ref, runner, parameters
        self.metadata_path, self.entry_point = metadata_path, entry_point


def _pack_actions(pack_dir, problems):
    actions_dir = os.path.join(pack_dir, 'actions')
    pack = None
    try:
        names = sorted(os.listdir(actions_dir))
    except OSError as e:
        problems.append(Problem(actions_dir, None, 'cannot read the directory: %s'
                                % (e.strerror or e)))
        return
    for name in names:
        path = os.path.join(actions_dir, name)
        if not (name.endswith(_YAML_SUFFIXES) and os.path.isfile(path)):
            continue
        doc, error = _read_yaml(path)
        if error:
            problems.append(Problem(path, None, error))
            continue
        if not _is_action_metadata(doc):
            continue
        pack = pack or _pack_name(pack_dir)
        yield _action(doc, path, doc.get('pack') or pack)


def _action(doc, path, pack):
    entry = doc.get('entry_point') or ''
    declared = doc.get('parameters') if isinstance(doc.get('parameters'), dict) else {}
    parameters = {name: schema for name, schema in declared.items()
                  if isinstance(schema, dict)}
    return Action('%s.%s' % (pack, doc['name']), doc.get('runner_type'), parameters, path,
                  os.path.join(os.path.dirname(path), entry) if entry else None)


def _pack_dirs(path):
    """Packs at or under ``path``: directories holding an ``actions`` directory (not
    looked into further: st2 registers no pack inside a pack)."""
    for root, dirs, _files in os.walk(path):
        if 'actions' in dirs:
            dirs[:] = []
            yield root
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith('.'))


# -- runner parameters -------------------------------------------------------------


def runner_parameters_from(directory):
    """runner name -> runner_parameters from the ``runner.yaml`` files under
    ``directory`` (st2's ``contrib/runners`` of a checkout or an installed st2)."""
    runners = {}
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.') and d != 'tests')
        if 'runner.yaml' not in files:
            continue
        doc, _ = _read_yaml(os.path.join(root, 'runner.yaml'))
        for runner in doc if isinstance(doc, list) else [doc]:
            if isinstance(runner, dict) and runner.get('name'):
                runners[runner['name']] = runner.get('runner_parameters') or {}
    return runners


def installed_runner_parameters():
    """runner name -> runner_parameters of the st2 runners installed here ({} without).

    st2 registers a runner type from the ``runner.yaml`` of the package an entry point
    of ``st2common.runners.runner`` names (each runner's ``get_metadata()``;
    st2common/st2common/runners/__init__.py). The file is read, the runner is not
    imported (importing two runners registers clashing st2 options).
    """
    try:
        from importlib import metadata
        from importlib import util
    except ImportError:  # pragma: no cover
        return {}
    try:
        entry_points = metadata.entry_points()
        found = (entry_points.select(group='st2common.runners.runner')
                 if hasattr(entry_points, 'select')
                 else entry_points.get('st2common.runners.runner', ()))
    except Exception:
        return {}
    runners = {}
    for package in sorted({entry_point.value.split(':')[0].split('.')[0]
                           for entry_point in found}):
        try:
            spec = util.find_spec(package)
        except Exception:
            continue
        for directory in (spec.submodule_search_locations or []) if spec else []:
            runners.update(runner_parameters_from(directory))
    return runners


# -- Mistral -----------------------------------------------------------------------


def mistral_checker():
    """``check(text, is_workbook) -> error or None`` with Mistral's parser, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # eventlet's deprecation notice on import
            from mistral import exceptions as mistral_exc
            from mistral.lang import parser
    except Exception:
        return None

    def check(text, is_workbook):
        parse = (parser.get_workbook_spec_from_yaml if is_workbook
                 else parser.get_workflow_list_spec_from_yaml)
        try:
            parse(text, validate=True)
        except mistral_exc.DSLParsingException as e:
            return _first_line(str(e))
        return None
    return check


def _first_line(message):
    """Mistral's message without the JSON schema and instance dump it appends to a
    schema error (st2 3.2's validator kept the line after ``Invalid DSL:`` too)."""
    return message.strip().split('\n', 1)[0].strip()


def _workflows(spec):
    if definitions.is_workbook(spec):
        workflows = spec.get('workflows')
        return list(workflows.items()) if isinstance(workflows, dict) else []
    return [(name, spec[name]) for name in definitions.workflow_names(spec)]


def _task_names(workflow):
    tasks = workflow.get('tasks') if isinstance(workflow, dict) else None
    return list(tasks) if isinstance(tasks, dict) else []


def _stubbed(spec, is_workbook, keep=None):
    """``spec`` with every task an ``std.noop`` except ``keep`` (workflow, task)."""
    stubbed = copy.deepcopy(spec)
    for wf_name, workflow in _workflows(stubbed):
        for task in _task_names(workflow):
            if (wf_name, task) != keep:
                workflow['tasks'][task] = {'action': 'std.noop'}
    return stubbed


def _mistral_problems(check, spec, is_workbook):
    """Mistral's refusals. Mistral stops at the first; each task is tried alone among
    ``std.noop`` stubs so that every refused task is named."""
    error = check(definitions.dump(spec), is_workbook)
    if error is None:
        return []
    skeleton_error = check(definitions.dump(_stubbed(spec, is_workbook)), is_workbook)
    if skeleton_error is not None:
        return [(None, skeleton_error)]
    found = []
    for wf_name, workflow in _workflows(spec):
        for task in _task_names(workflow):
            alone = _stubbed(spec, is_workbook, keep=(wf_name, task))
            task_error = check(definitions.dump(alone), is_workbook)
            if task_error is not None:
                found.append(('%s.%s' % (wf_name, task), task_error))
    return found or [(None, error)]


# -- checking ----------------------------------------------------------------------


class Validator:
    def __init__(self, actions=(), runner_parameters=None, mistral=None):
        self.actions = {action.ref: action for action in actions}
        self.runner_parameters = runner_parameters or {}
        self.mistral = mistral
        self.unknown_runners = set()

    def lookup(self, ref):
        action = self.actions.get(ref)
        if action is None:
            return None
        runner = self.runner_parameters.get(action.runner)
        if runner is None:
            self.unknown_runners.add(action.runner)
        parameters = dict(runner or {})
        parameters.update(action.parameters)
        return definitions.ActionInfo(ref=ref, parameters=parameters,
                                      complete=runner is not None)

    def check_file(self, path, action_ref=None):
        """Problems of one definition file; ``action_ref``: the action it is the entry
        point of (its name must be that ref, as the runner requires)."""
        spec, error = _read_yaml(path)
        if error:
            return [Problem(path, None, error)]
        if not isinstance(spec, dict):
            return [Problem(path, None, 'not a Mistral workflow or workbook definition '
                                        '(a YAML mapping is expected)')]
        problems = []
        is_workbook = definitions.is_workbook(spec)
        if not is_workbook and len(definitions.workflow_names(spec)) != 1:
            problems.append(Problem(path, None, 'Multiple workflows is not supported '
                                                'workflow only (not a workbook) definition.'))
        elif action_ref:
            try:
                definitions.check_name(action_ref, spec)
            except definitions.DefinitionError as e:
                problems.append(Problem(path, None, e))
        if self.mistral is not None:
            problems.extend(Problem(path, where, message) for where, message
                            in _mistral_problems(self.mistral, spec, is_workbook))
        if not is_workbook and len(definitions.workflow_names(spec)) != 1:
            return problems
        found = definitions.problems(spec, self.lookup)
        problems.extend(Problem(path, where, message) for where, message in found)
        if not found and self.mistral is not None and not problems:
            transformed = definitions.transform(spec, self.lookup)
            problems.extend(Problem(path, where, 'after st2\'s transform: %s' % message)
                            for where, message
                            in _mistral_problems(self.mistral, transformed, is_workbook))
        return problems


def collect(paths):
    """(actions of every pack found, items in the order of ``paths``), an item being a
    Problem or a (definition path, action ref or None) to check."""
    actions, items = [], []
    for path in paths:
        if not os.path.exists(path):
            items.append(Problem(path, None, 'no such file or directory'))
        elif os.path.isdir(path):
            packs = list(_pack_dirs(path))
            if not packs:
                items.append(Problem(path, None, 'no pack here (no "actions" directory at '
                                                 'or below it)'))
            for pack_dir in packs:
                for action in _pack_actions(pack_dir, items):
                    actions.append(action)
                    if action.runner == MISTRAL_RUNNER:
                        items.append(_target(action))
        else:
            doc, error = _read_yaml(path)
            if not error and _is_action_metadata(doc):
                pack_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
                action = _action(doc, path, doc.get('pack') or _pack_name(pack_dir))
                actions.append(action)
                if action.runner == MISTRAL_RUNNER:
                    items.append(_target(action))
            else:
                items.append((path, None))  # check_file reports a read error
    return actions, items


def _target(action):
    if not action.entry_point:
        return Problem(action.metadata_path, None,
                       'mistral-v2 action %s has no entry_point' % action.ref)
    return (action.entry_point, action.ref)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='st2mistral-validate',
        description='Report what st2 3.2 and Mistral 23 refuse in mistral-v2 workflows.')
    parser.add_argument('paths', nargs='+', metavar='PATH',
                        help='a workflow/workbook file, an action metadata file, a pack, or '
                             'a directory of packs')
    parser.add_argument('--packs', action='append', default=[], metavar='DIR',
                        help='more packs whose actions tasks may call (e.g. st2\'s core '
                             'pack); read for their parameters, not validated')
    parser.add_argument('--runners', action='append', default=[], metavar='DIR',
                        help='st2 runners (their runner.yaml files, e.g. st2\'s '
                             'contrib/runners) whose parameters actions take; default: the '
                             'st2 runners installed in this Python')
    args = parser.parse_args(argv)

    actions, items = collect(args.paths)
    extra, extra_items = collect(args.packs)
    runners = installed_runner_parameters()
    for directory in args.runners:
        if not os.path.isdir(directory):
            parser.error('--runners %s: not a directory' % directory)
        runners.update(runner_parameters_from(directory))
    checker = mistral_checker()
    validator = Validator(actions + extra, runners, checker)

    problems, seen = [], set()
    for item in [i for i in extra_items if isinstance(i, Problem)] + items:
        if isinstance(item, Problem):
            problems.append(item)
            print(item)
            continue
        path, ref = item
        if (path, ref) in seen:  # one file may be the entry point of several actions
            continue
        seen.add((path, ref))
        for problem in validator.check_file(path, ref):
            problems.append(problem)
            print(problem)
        sys.stdout.flush()

    notes = []
    if checker is None:
        notes.append('Mistral is not importable here: Mistral 23\'s own checks were NOT run '
                     '(run st2mistral-validate in Mistral\'s virtualenv for them).')
    if validator.unknown_runners:
        notes.append('runner parameters unknown for %s (not installed here; give '
                     '--runners DIR): parameters the action does not declare were not '
                     'checked.' % ', '.join(sorted(validator.unknown_runners)))
    for note in notes:
        print('note: %s' % note, file=sys.stderr)
    print('%d problem(s) in %d definition(s) checked.' % (len(problems), len(seen)),
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
