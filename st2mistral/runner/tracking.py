"""Which st2 executions the relay service tracks: one file per execution.

``st2mistral-track-result`` adds and removes entries; the relay service
(st2 3.4+) lists them every poll and removes an entry once its execution is
completed. A directory of small files needs no lock: creating a file with
O_EXCL is atomic, and so is removing it.
"""

import json
import os
import re
import time

# st2 execution ids are Mongo ObjectIds; never let an id name a path.
_ID = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
_SUFFIX = '.json'


class InvalidExecutionId(ValueError):
    pass


def _check(execution_id):
    if not isinstance(execution_id, str) or not _ID.match(execution_id):
        raise InvalidExecutionId('%r is not an st2 execution id' % (execution_id,))
    return execution_id


class TrackingStore:
    def __init__(self, directory):
        self.directory = directory

    def _path(self, execution_id):
        return os.path.join(self.directory, _check(execution_id) + _SUFFIX)

    def add(self, execution_id, **details):
        """True if added, False if the execution was already tracked."""
        os.makedirs(self.directory, mode=0o750, exist_ok=True)
        path = self._path(execution_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except FileExistsError:
            return False
        with os.fdopen(fd, 'w') as f:
            json.dump(dict(details, execution_id=execution_id, added_at=time.time()), f)
        return True

    def remove(self, execution_id):
        """True if an entry was removed."""
        try:
            os.unlink(self._path(execution_id))
            return True
        except FileNotFoundError:
            return False

    def __contains__(self, execution_id):
        return os.path.exists(self._path(execution_id))

    def ids(self):
        """Tracked execution ids, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        entries = []
        for name in names:
            execution_id = name[:-len(_SUFFIX)]
            if name.endswith(_SUFFIX) and _ID.match(execution_id):
                try:
                    entries.append((os.path.getmtime(os.path.join(self.directory, name)),
                                    execution_id))
                except FileNotFoundError:
                    continue  # removed meanwhile
        return [execution_id for _, execution_id in sorted(entries)]
