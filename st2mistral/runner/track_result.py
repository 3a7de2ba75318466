"""``st2mistral-track-result <execution-id> [--delete] [--config-file F | --config-dir D]``

Enables (or with ``--delete`` disables) results tracking for one st2
mistral-v2 execution and its mistral-v2 children, for when st2 or Mistral was
offline while a status or a child result should have been pushed. The relay
service (``st2mistral-relay``) then reconciles it with Mistral until it is
completed. Completed executions are refused: there is nothing left to track.

Why not ``st2-track-result``: st2common ships a script of that name in every
st2 release. On st2 <= 3.3 it is the right tool (st2resultstracker runs this
project's querier); on 3.4+ it still writes database rows that no service
reads. Installing a script of the same name would overwrite st2's file in st2's
virtualenv and delete it when this package is removed, so this one has its own
name and the same arguments.
"""

import sys

from oslo_config import cfg

from st2mistral import results
from st2mistral import st2api
from st2mistral.runner import clients
from st2mistral.runner import config
from st2mistral.runner import tracking

RUNNER = 'mistral-v2'
# Seconds this command keeps retrying an st2 API that does not answer.
GIVE_UP_AFTER = 10.0

CLI_OPTS = [
    cfg.StrOpt('id', positional=True, required=True,
               help='ID of the st2 action execution.'),
    cfg.BoolOpt('delete', default=False, help='Delete the result tracker entry.'),
]


def runner_of(execution):
    return ((execution.get('runner') or {}).get('name')
            or (execution.get('action') or {}).get('runner_type'))


class TrackResult:
    def __init__(self, st2_client, api_url, credentials, store, out=print, err=None):
        self._st2 = st2_client
        self._api_url = api_url.rstrip('/')
        self._credentials = credentials
        self._store = store
        self._out = out
        self._err = err or (lambda message: print(message, file=sys.stderr))

    def _get(self, execution_id):
        try:
            return self._st2.call('GET', '%s/executions/%s' % (self._api_url, execution_id),
                                  self._credentials)
        except st2api.St2Error as e:
            if e.status_code == 404:
                return None
            raise

    def add(self, execution_id, top=True):
        """Track an execution and its mistral-v2 children; True unless refused."""
        execution = self._get(execution_id)
        if execution is None:
            self._err('Action execution "%s" was not found in st2.' % execution_id)
            return False
        runner = runner_of(execution)
        if runner != RUNNER:
            self._err('Result tracker is only supported for Mistral workflows (runner %s); '
                      'action execution "%s" uses runner "%s".' % (RUNNER, execution_id, runner))
            return False
        status = execution.get('status')
        if status in results.ST2_COMPLETED:
            self._err('Action execution "%s" is already in a completed state (%s). Result '
                      'tracker entry is not created.' % (execution_id, status))
            return not top
        mistral_id = ((execution.get('context') or {}).get('mistral') or {}).get('execution_id')
        if self._store.add(execution_id, mistral_execution_id=mistral_id):
            self._out('Added a result tracker entry for action execution "%s" (Mistral '
                      'execution %s).' % (execution_id, mistral_id))
        else:
            self._out('Action execution "%s" already has a result tracker entry.'
                      % execution_id)
        for child_id in execution.get('children') or ():
            child = self._get(child_id)
            if child is not None and runner_of(child) == RUNNER:
                self._out('Adding result tracker for child "%s"...' % child_id)
                self.add(child_id, top=False)
        return True

    def delete(self, execution_id):
        if self._store.remove(execution_id):
            self._out('Removed the result tracker entry of action execution "%s".'
                      % execution_id)
        else:
            self._out('There is no result tracker entry to remove for action execution "%s".'
                      % execution_id)
        execution = self._get(execution_id)
        for child_id in (execution or {}).get('children') or ():
            if child_id in self._store:
                self.delete(child_id)
        return True


def main(argv=None):
    conf = config.load(sys.argv[1:] if argv is None else argv, prog='st2mistral-track-result',
                       description='Enable or disable results tracking of one st2 '
                                   'mistral-v2 execution.',
                       cli_opts=CLI_OPTS)
    api_url = config.public_api_url(conf)
    command = TrackResult(clients.st2(conf, api_url=api_url, give_up_after=GIVE_UP_AFTER), api_url,
                          clients.st2_credentials(conf),
                          tracking.TrackingStore(conf[config.MISTRAL].tracking_dir))
    try:
        tracking._check(conf.id)
        ok = command.delete(conf.id) if conf.delete else command.add(conf.id)
    except (tracking.InvalidExecutionId, st2api.St2Error, OSError) as e:
        print('st2mistral-track-result: %s' % e, file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
