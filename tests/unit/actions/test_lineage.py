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

"""The lineage check: a sub-workflow's root counts only through rows the engine wrote."""

import pytest

from st2mistral.mistral_side.actions import lineage

ENV = {'st2_execution_id': 'st2-1'}


def db(workflows, tasks):
    wfs = {w.id: w for w in workflows}
    tks = {t.id: t for t in tasks}
    return wfs.get, tks.get


def wf(id, root=None, task=None, project='alice', env=None):
    return lineage.Workflow(id=id, root_execution_id=root, task_execution_id=task,
                            project_id=project, env=env or {})


def task(id, wf_id, type='WORKFLOW', project='alice'):
    return lineage.Task(id=id, workflow_execution_id=wf_id, type=type, project_id=project)


TREE = ([wf('root', env=ENV), wf('sub', root='root', task='t1'),
         wf('subsub', root='root', task='t2')],
        [task('t1', 'root'), task('t2', 'sub'), task('act', 'root', type='ACTION')])


@pytest.mark.parametrize('start', ['root', 'sub', 'subsub'])
def test_engine_made_chain_leads_to_the_root(start):
    root = lineage.trusted_root(start, *db(*TREE))
    assert root.id == 'root' and root.env == ENV


@pytest.mark.parametrize('forged, named', [
    (wf('x', root='root'), 'no parent task'),
    (wf('x', root='root', task='gone'), 'not in Mistral'),
    (wf('x', root='root', task='act'), 'runs an action'),
    (wf('x', root='elsewhere', task='t1'), 'not to root elsewhere'),
    (wf('x', root='root', task='t1', project='bob'), 'another Mistral project'),
])
def test_forged_lineage_is_untrusted(forged, named):
    workflows, tasks = TREE
    with pytest.raises(lineage.Untrusted, match=named):
        lineage.trusted_root('x', *db(workflows + [forged], tasks))


def test_a_task_of_another_project_breaks_the_chain():
    # Bob's own workflow task, pointing into Alice's tree, in Bob's project.
    workflows = [wf('root', env=ENV), wf('bobs', root='root', task='bt', project='bob')]
    tasks = [task('bt', 'root', project='bob')]
    with pytest.raises(lineage.Untrusted, match='another Mistral project'):
        lineage.trusted_root('bobs', *db(workflows, tasks))


def test_a_loop_ends():
    workflows = [wf('a', root='r', task='ta'), wf('b', root='r', task='tb')]
    tasks = [task('ta', 'b'), task('tb', 'a')]
    with pytest.raises(lineage.Untrusted, match='deeper than 5'):
        lineage.trusted_root('a', *db(workflows, tasks), max_depth=5)


def test_unknown_workflow_is_untrusted():
    with pytest.raises(lineage.Untrusted, match='not in Mistral'):
        lineage.trusted_root('nope', *db([], []))
