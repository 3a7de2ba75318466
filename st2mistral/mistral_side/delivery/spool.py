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

"""The durable spool: what publish() accepted survives st2 outages and kills.

A small SQLite file per notifier process, in WAL mode with synchronous=NORMAL:
a commit costs tens of microseconds and survives the process being killed
(not a power cut, which would need synchronous=FULL and an fsync per event).

Two tables, two stages:

- ``events``: Mistral events as publish() received them, written before
  publish() returns; removed once processed into an update (or nothing);
- ``updates``: the newest st2 update per st2 execution (a newer one replaces
  the row), removed when st2 took it, or moved to
- ``given_up``: updates given up, with the reason, for ``st2mistral-spool``
  (mistral_side/spool_cli.py) to show, retry or drop; the newest
  :data:`MAX_GIVEN_UP` (and :data:`MAX_GIVEN_UP_BYTES`) are kept.

A restarted process replays both. Several processes may share one state
directory: each takes the first free ``spool-N.sqlite`` slot under an
exclusive flock, so a slot left by a dead process is adopted and replayed
by the next one to start.

The file holds st2 auth tokens: it is created 0600 in a 0700 directory.
"""

import fcntl
import json
import os
import sqlite3
import threading

MAX_SLOTS = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS updates (
    api_url TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (api_url, execution_id)
);
CREATE TABLE IF NOT EXISTS given_up (
    api_url TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    given_up_at REAL NOT NULL,
    reason TEXT,
    payload TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (api_url, execution_id)
);
"""

# Given-up updates kept for ``st2mistral-spool`` (show, retry), newest first; not
# counted in the spool's bounds, so they have their own.
MAX_GIVEN_UP = 1000
MAX_GIVEN_UP_BYTES = 64 * 1024 * 1024


class SpoolFull(Exception):
    """The spool reached [st2] spool_max_count or spool_max_bytes."""


def trim_given_up(db):
    """Keep the newest MAX_GIVEN_UP given-up rows within MAX_GIVEN_UP_BYTES."""
    db.execute('DELETE FROM given_up WHERE rowid NOT IN (SELECT rowid FROM given_up '
               'ORDER BY given_up_at DESC LIMIT ?)', (MAX_GIVEN_UP,))
    total = 0
    for rowid, size in db.execute(
            'SELECT rowid, size FROM given_up ORDER BY given_up_at DESC').fetchall():
        total += size
        if total > MAX_GIVEN_UP_BYTES:
            db.execute('DELETE FROM given_up WHERE rowid = ?', (rowid,))


class NothingToAdopt(Exception):
    """No free slot holds entries a stopped process left."""


def pending_entries(path):
    """Events plus updates in the spool file ``path`` (0 when there is none); only
    reads, so it is safe while the process owning it writes (WAL)."""
    if not os.path.exists(path):
        return 0
    db = sqlite3.connect(path, isolation_level=None)
    try:
        return sum(db.execute('SELECT COUNT(*) FROM %s' % table).fetchone()[0]
                   for table in ('events', 'updates'))
    except sqlite3.Error:
        return 0        # not a spool yet (created, no schema)
    finally:
        db.close()


class Spool:
    def __init__(self, directory, max_count, max_bytes):
        self.directory = directory
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.path = None
        self._lock = threading.Lock()
        self._db = None
        self._lock_file = None
        self._count = 0
        self._bytes = 0

    # -- lifecycle ---------------------------------------------------------

    def open(self, adopt_only=False):
        """Take the first free slot (``adopt_only``: the first free one a stopped
        process left entries in; :class:`NothingToAdopt` when there is none)."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        for slot in range(MAX_SLOTS):
            lock_path = os.path.join(self.directory, 'spool-%d.lock' % slot)
            path = os.path.join(self.directory, 'spool-%d.sqlite' % slot)
            if adopt_only and not os.path.exists(lock_path):
                continue
            lock_file = open(lock_path, 'a+')
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.close()
                continue
            if adopt_only and not pending_entries(path):
                lock_file.close()
                continue
            self._lock_file = lock_file
            self.path = path
            break
        else:
            if adopt_only:
                raise NothingToAdopt(self.directory)
            raise OSError('all %d spool slots in %s are taken by running processes'
                          % (MAX_SLOTS, self.directory))
        old_umask = os.umask(0o077)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None)
        finally:
            os.umask(old_umask)
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('PRAGMA synchronous=NORMAL')
        self._db.executescript(_SCHEMA)
        self._count, self._bytes = self._recount()
        return self

    def close(self):
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._lock_file is not None:
                self._lock_file.close()   # releases the flock
                self._lock_file = None

    # -- events --------------------------------------------------------------

    def add_event(self, event_dict):
        payload = json.dumps(event_dict, default=str)
        with self._lock:
            self._check_room(len(payload))
            cursor = self._db.execute('INSERT INTO events (payload, size) VALUES (?, ?)',
                                      (payload, len(payload)))
            self._count += 1
            self._bytes += len(payload)
            return cursor.lastrowid

    def remove_event(self, event_id):
        with self._lock:
            row = self._db.execute('SELECT size FROM events WHERE id = ?',
                                   (event_id,)).fetchone()
            if row:
                self._db.execute('DELETE FROM events WHERE id = ?', (event_id,))
                self._count -= 1
                self._bytes -= row[0]

    def events(self):
        with self._lock:
            rows = self._db.execute('SELECT id, payload FROM events ORDER BY id').fetchall()
        return [(event_id, json.loads(payload)) for event_id, payload in rows]

    # -- updates (the Sender's store interface) ------------------------------

    def put(self, item):
        payload = json.dumps(item.to_dict(), default=str)
        with self._lock:
            old = self._db.execute(
                'SELECT size FROM updates WHERE api_url = ? AND execution_id = ?',
                item.key).fetchone()
            old_size = old[0] if old else 0
            if not old:
                self._check_room(len(payload))
            self._db.execute(
                'INSERT OR REPLACE INTO updates (api_url, execution_id, seq, payload, size) '
                'VALUES (?, ?, ?, ?, ?)', item.key + (item.seq, payload, len(payload)))
            self._count += 0 if old else 1
            self._bytes += len(payload) - old_size

    def remove(self, item):
        with self._lock:
            self._remove_locked(item)

    def _remove_locked(self, item):
        row = self._db.execute(
            'SELECT size FROM updates WHERE api_url = ? AND execution_id = ? AND seq = ?',
            item.key + (item.seq,)).fetchone()
        if row:
            self._db.execute(
                'DELETE FROM updates WHERE api_url = ? AND execution_id = ? AND seq = ?',
                item.key + (item.seq,))
            self._count -= 1
            self._bytes -= row[0]

    def give_up(self, item, reason, now):
        """Move ``item``'s row from the waiting updates to the given-up ones."""
        payload = json.dumps(item.to_dict(), default=str)
        with self._lock:
            self._remove_locked(item)
            self._db.execute(
                'INSERT OR REPLACE INTO given_up (api_url, execution_id, given_up_at, reason, '
                'payload, size) VALUES (?, ?, ?, ?, ?, ?)',
                item.key + (now, reason, payload, len(payload)))
            trim_given_up(self._db)

    def load(self):
        """The waiting updates, oldest first, as ``(key, dict)`` pairs: the dict for
        ``Outgoing.from_dict``, the key for :meth:`discard` if it cannot be read."""
        with self._lock:
            rows = self._db.execute(
                'SELECT api_url, execution_id, payload FROM updates ORDER BY seq').fetchall()
        return [((api_url, execution_id), json.loads(payload))
                for api_url, execution_id, payload in rows]

    def discard(self, key):
        """Drop the update stored under ``key`` (one that cannot be read back)."""
        with self._lock:
            self._db.execute('DELETE FROM updates WHERE api_url = ? AND execution_id = ?', key)
            self._count, self._bytes = self._recount()

    def _recount(self):
        count = size = 0
        for table in ('events', 'updates'):
            c, b = self._db.execute(
                'SELECT COUNT(*), COALESCE(SUM(size), 0) FROM %s' % table).fetchone()
            count, size = count + c, size + b
        return count, size

    def usage(self):
        with self._lock:
            return self._count, self._bytes

    def _check_room(self, size):
        if self._count + 1 > self.max_count or self._bytes + size > self.max_bytes:
            raise SpoolFull('the st2 delivery spool %s is full (%d entries, %d bytes; limits '
                            '[st2] spool_max_count=%d, spool_max_bytes=%d)' % (
                                self.path, self._count, self._bytes, self.max_count,
                                self.max_bytes))

