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

"""Figure 4, completion cost: DB reads and time to build a completed workflow's st2 update.

The real Mistral runs the looping workflow (benchmarks.harness.LOOP) to 10,
100 and 1,000 task executions; then, with the server stopped, a separate
process opens the SQLite database it wrote through ``mistral.db.v2.api``
(Mistral's own config file) and builds the update the notifier sends on
WORKFLOW_SUCCEEDED, exactly as ``publish_workflow`` does:
``mistral_db.load_snapshot`` + ``results.build_update`` (+ ``results.fit``,
the size cap, when the product has it). SQL statements are counted with a
SQLAlchemy ``before_cursor_execute`` listener on Mistral's engine; reads are
the SELECTs.

Baseline, same process and data: Mistral's own way to get a task's result,
``data_flow.get_task_execution_result`` over the ORM (what Mistral's REST API
and the historic st2mistral notifier did), feeding the same build_update.

    python -m benchmarks.completion_cost --config-file mistral.conf \
        --executions '{"10": "<wf ex id>", ...}' --repeat 5      # prints JSON
"""

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks import harness
from benchmarks import stats

SIZES = (10, 100, 1000)


# -- in the benchmark process ------------------------------------------------

def prepare(mistral, sizes, log=print):
    """Run the looping workflow once per size; {size: workflow execution id}."""
    client = mistral.client()
    executions = {}
    for size in sizes:
        started = time.monotonic()
        ex_id = client.executions.create(harness.LOOP_NAME, workflow_input={'n': size}).id
        execution = mistral.wait_for_execution(ex_id, timeout=max(60, size * 0.2),
                                               client=client, interval=0.2)
        if execution.state != 'SUCCESS':
            raise RuntimeError('loop workflow of %d tasks ended %s: %s' % (
                size, execution.state, execution.state_info))
        log('  completion cost: %d-task workflow ran in %.1f s' % (
            size, time.monotonic() - started))
        executions[size] = ex_id
    return executions


def run(conf_path, executions, repeat, python=None):
    """Measure in a child process (Mistral's DB config, no server running), run by
    ``python`` (the interpreter of Mistral's virtualenv; default: this one)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (root, env.get('PYTHONPATH')) if p)
    out = subprocess.run(
        [python or sys.executable, '-m', 'benchmarks.completion_cost', '--config-file', conf_path,
         '--executions', json.dumps(executions), '--repeat', str(repeat)],
        env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError('completion cost measurement failed:\n%s' % out.stderr[-3000:])
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    return {int(size): values for size, values in measured.items()}


# -- in the measuring child ----------------------------------------------------

class StatementCounter:
    def __init__(self, engine):
        from sqlalchemy import event

        self.reads = self.total = 0
        event.listen(engine, 'before_cursor_execute', self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        self.total += 1
        if statement.lstrip().upper().startswith('SELECT'):
            self.reads += 1

    def reset(self):
        self.reads = self.total = 0


def product_update(wf_ex_id):
    """What the notifier builds for WORKFLOW_SUCCEEDED (publish_workflow)."""
    from oslo_config import cfg

    from st2mistral.core import opts
    from st2mistral.core import results
    from st2mistral.mistral_side.notifiers import mistral_db

    snapshot = mistral_db.load_snapshot(wf_ex_id)
    result = results.build_update(snapshot).result
    fit = getattr(results, 'fit', None)
    return fit(result, cfg.CONF[opts.GROUP].max_result_size) if fit else result


def orm_update(wf_ex_id):
    """The same update with Mistral's ORM and data_flow (one or more reads per task)."""
    from mistral.db.v2 import api as db_api
    from mistral.workflow import data_flow

    from st2mistral.core import results

    with db_api.transaction(read_only=True):
        wf_ex = db_api.get_workflow_execution(wf_ex_id)
        tasks = []
        for task_ex in wf_ex.task_executions:
            task = {field: getattr(task_ex, field) for field in results.TASK_FIELDS}
            task['published'] = task_ex.published
            task['next_tasks'] = task_ex.next_tasks
            task['result'] = data_flow.get_task_execution_result(task_ex)
            tasks.append(task)
        snapshot = results.Snapshot(state=wf_ex.state, state_info=wf_ex.state_info,
                                    output=wf_ex.output, tasks=tasks)
    ordered = results.order_tasks(snapshot.tasks)
    for task in ordered:
        task.pop('next_tasks')
    snapshot.tasks = ordered
    return results.build_update(snapshot).result


def same_update(a, b):
    """Equal, but for the order of tasks that Mistral's data cannot order (same
    name, same second: a loop), which follows the database's row order."""
    def by_id(result):
        return dict(result, tasks=sorted(result['tasks'], key=lambda task: task['id']))
    return by_id(a) == by_id(b)


def measure(build, wf_ex_id, counter, repeat):
    build(wf_ex_id)                    # warm-up (spec caches, connection)
    times, reads, total = [], set(), set()
    for _ in range(repeat):
        counter.reset()
        started = time.perf_counter()
        result = build(wf_ex_id)
        times.append((time.perf_counter() - started) * 1000)
        reads.add(counter.reads)
        total.add(counter.total)
    return {'ms': stats.median(times), 'reads': max(reads), 'statements': max(total),
            'tasks': len(result['tasks']), 'bytes': len(json.dumps(result, default=str))}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--executions', required=True)
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args(argv)

    from mistral import config as m_config
    from mistral.db.sqlalchemy import base as db_base
    from oslo_config import cfg

    from st2mistral.mistral_side.notifiers import mistral_db

    cfg.CONF.register_cli_opts(m_config.CLI_OPTS)
    m_config.parse_args(['--config-file', args.config_file])
    mistral_db.use_context(mistral_db.admin_context())
    counter = StatementCounter(db_base.get_engine())

    measured = {}
    for size, wf_ex_id in json.loads(args.executions).items():
        ours = measure(product_update, wf_ex_id, counter, args.repeat)
        orm = measure(orm_update, wf_ex_id, counter, args.repeat)
        measured[size] = {'st2mistral': ours, 'orm': orm,
                          'same_update': same_update(product_update(wf_ex_id),
                                                     orm_update(wf_ex_id))}
    print(json.dumps(measured))


if __name__ == '__main__':
    main()
