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

"""``st2mistral-spool``: what waits in the publisher's spool, and what was given up.

    st2mistral-spool --state-dir /var/lib/mistral/st2mistral list [--json]
    st2mistral-spool --state-dir DIR show ST2_EXECUTION_ID [--json]
    st2mistral-spool --state-dir DIR retry ST2_EXECUTION_ID [--force]
    st2mistral-spool --state-dir DIR drop ST2_EXECUTION_ID [--force]

It reads the spool files (delivery/spool.py) while Mistral runs: SQLite in WAL
mode lets a reader in beside the writer, and ``list``/``show`` only read.
``retry`` (a given-up update back to waiting, its tries reset) and ``drop``
(forget an update) write, so they refuse a slot a live Mistral process holds
(its lock file is locked) unless ``--force``: a live process keeps its waiting
updates in memory too and would not see the change before it restarts. On a
slot no process holds the change is replayed by the next process to adopt it
(mistral_side/startup.py: within seconds of a Mistral start).

Tokens never appear: an update's st2 token is shown as ``***``. Run it as the
user Mistral runs as (the owner of the state directory): SQLite creates its
-wal/-shm files as the user that opens the file.
"""

import argparse
import contextlib
import fcntl
import json
import os
import sqlite3
import sys
import time

DEFAULT_STATE_DIR = '/var/lib/mistral/st2mistral'
REDACTED = '***'


class SpoolError(Exception):
    """A message for the operator; exit status 2."""


def slots(state_dir):
    """The slot numbers that have a spool file, in order."""
    found = []
    for name in os.listdir(state_dir):
        if name.startswith('spool-') and name.endswith('.sqlite'):
            number = name[len('spool-'):-len('.sqlite')]
            if number.isdigit():
                found.append(int(number))
    return sorted(found)


@contextlib.contextmanager
def holding(state_dir, slot, force):
    """Hold slot ``slot``'s lock while writing; live (held elsewhere): refuse unless
    ``force``. Yields whether a live process holds it."""
    lock_path = os.path.join(state_dir, 'spool-%d.lock' % slot)
    with open(lock_path, 'a+') as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            live = False
        except BlockingIOError:
            live = True
            if not force:
                raise SpoolError(
                    'a live Mistral process holds spool-%d (%s): it keeps its updates in '
                    'memory and would not see this change before it restarts. Run again '
                    'with --force to write anyway, or when that process is stopped.'
                    % (slot, lock_path)) from None
        yield live


def is_live(state_dir, slot):
    lock_path = os.path.join(state_dir, 'spool-%d.lock' % slot)
    if not os.path.exists(lock_path):
        return False
    with open(lock_path, 'a+') as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def _connect(path):
    db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    db.execute('PRAGMA busy_timeout = 5000')
    return db


def _table_rows(db, sql, params=()):
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:        # a spool made before that table
        return []


def _public(payload):
    """An update's fields as shown: the token masked, the result summarised."""
    data = json.loads(payload)
    target = dict(data.get('target') or {})
    if target.get('token'):
        target['token'] = REDACTED
    data['target'] = target
    return data


def _summary(data, now, state, slot, live, reason=None, given_up_at=None):
    target = data['target']
    accepted = data.get('accepted_at')
    row = {
        'st2_execution_id': target.get('execution_id'),
        'api_url': target.get('api_url'),
        'state': state,
        'status': data.get('status'),
        'age_seconds': round(now - accepted, 1) if accepted else None,
        'tries': data.get('attempts', 0),
        'last_error': data.get('last_error'),
        'mistral_execution_id': data.get('root_id'),
        'event': data.get('event'),
        'slot': slot,
        'live': live,
    }
    if state == 'given up':
        row['reason'] = reason
        row['given_up_seconds_ago'] = round(now - given_up_at, 1)
    return row


def read(state_dir, now=None):
    """Every slot's waiting updates, given-up updates and unprocessed events."""
    now = time.time() if now is None else now
    updates, events = [], []
    for slot in slots(state_dir):
        live = is_live(state_dir, slot)
        db = _connect(os.path.join(state_dir, 'spool-%d.sqlite' % slot))
        try:
            for (payload,) in _table_rows(db, 'SELECT payload FROM updates ORDER BY seq'):
                updates.append(_summary(_public(payload), now, 'waiting', slot, live))
            for payload, reason, at in _table_rows(
                    db, 'SELECT payload, reason, given_up_at FROM given_up '
                        'ORDER BY given_up_at'):
                updates.append(_summary(_public(payload), now, 'given up', slot, live,
                                        reason, at))
            for (payload,) in _table_rows(db, 'SELECT payload FROM events ORDER BY id'):
                event = json.loads(payload)
                events.append({'mistral_execution_id': event.get('ex_id'),
                               'event': event.get('event'), 'slot': slot, 'live': live})
        finally:
            db.close()
    return {'state_dir': state_dir, 'updates': updates, 'events': events}


def _find(state_dir, execution_id, api_url=None):
    """[(slot, table, api_url)] of the rows for st2 execution ``execution_id``."""
    found = []
    for slot in slots(state_dir):
        db = _connect(os.path.join(state_dir, 'spool-%d.sqlite' % slot))
        try:
            for table in ('updates', 'given_up'):
                for (url,) in _table_rows(db, 'SELECT api_url FROM %s WHERE execution_id = ?'
                                          % table, (execution_id,)):
                    if api_url is None or url == api_url:
                        found.append((slot, table, url))
        finally:
            db.close()
    if not found:
        raise SpoolError('no update for st2 execution %s in %s' % (execution_id, state_dir))
    if len({url for _, _, url in found}) > 1:
        raise SpoolError('st2 execution %s has updates for several st2 APIs (%s): choose '
                         'one with --api-url' % (execution_id,
                                                 ', '.join(sorted({u for _, _, u in found}))))
    return found


def show(state_dir, execution_id, api_url=None, now=None):
    now = time.time() if now is None else now
    shown = []
    for slot, table, url in _find(state_dir, execution_id, api_url):
        db = _connect(os.path.join(state_dir, 'spool-%d.sqlite' % slot))
        try:
            if table == 'updates':
                (payload,) = db.execute('SELECT payload FROM updates WHERE api_url = ? AND '
                                        'execution_id = ?', (url, execution_id)).fetchone()
                data = _public(payload)
                row = _summary(data, now, 'waiting', slot, is_live(state_dir, slot))
            else:
                payload, reason, at = db.execute(
                    'SELECT payload, reason, given_up_at FROM given_up WHERE api_url = ? AND '
                    'execution_id = ?', (url, execution_id)).fetchone()
                data = _public(payload)
                row = _summary(data, now, 'given up', slot, is_live(state_dir, slot),
                               reason, at)
        finally:
            db.close()
        row['result'] = data.get('result')
        row['has_token'] = bool(data['target'].get('token'))
        shown.append(row)
    return shown


def retry(state_dir, execution_id, api_url=None, force=False, now=None):
    """Given-up update(s) of ``execution_id`` back to waiting, tries reset."""
    now = time.time() if now is None else now
    moved = 0
    for slot, table, url in _find(state_dir, execution_id, api_url):
        if table != 'given_up':
            continue
        with holding(state_dir, slot, force):
            db = _connect(os.path.join(state_dir, 'spool-%d.sqlite' % slot))
            try:
                db.execute('BEGIN IMMEDIATE')
                (payload,) = db.execute('SELECT payload FROM given_up WHERE api_url = ? AND '
                                        'execution_id = ?', (url, execution_id)).fetchone()
                data = json.loads(payload)
                data.update(attempts=0, last_error=None, unknown_since=None, accepted_at=now)
                payload = json.dumps(data)
                db.execute('INSERT OR REPLACE INTO updates (api_url, execution_id, seq, '
                           'payload, size) VALUES (?, ?, ?, ?, ?)',
                           (url, execution_id, data['seq'], payload, len(payload)))
                db.execute('DELETE FROM given_up WHERE api_url = ? AND execution_id = ?',
                           (url, execution_id))
                db.execute('COMMIT')
                moved += 1
            finally:
                db.close()
    if not moved:
        raise SpoolError('the update for st2 execution %s is waiting already, not given up: '
                         'the publisher tries it again by itself' % execution_id)
    return moved


def drop(state_dir, execution_id, api_url=None, force=False):
    dropped = 0
    for slot, table, url in _find(state_dir, execution_id, api_url):
        with holding(state_dir, slot, force):
            db = _connect(os.path.join(state_dir, 'spool-%d.sqlite' % slot))
            try:
                dropped += db.execute('DELETE FROM %s WHERE api_url = ? AND execution_id = ?'
                                      % table, (url, execution_id)).rowcount
            finally:
                db.close()
    return dropped


# -- the command ----------------------------------------------------------------


def _print_list(listing):
    updates = listing['updates']
    if not updates and not listing['events']:
        print('Nothing waits in %s.' % listing['state_dir'])
        return
    fmt = '%-26s %-9s %-10s %8s %5s  %s'
    print(fmt % ('ST2 EXECUTION', 'STATE', 'STATUS', 'AGE (s)', 'TRIES', 'LAST ERROR / REASON'))
    for u in updates:
        print(fmt % (u['st2_execution_id'], u['state'], u['status'], u['age_seconds'],
                     u['tries'], (u.get('reason') if u['state'] == 'given up'
                                  else u['last_error']) or '-'))
    if listing['events']:
        print('%d Mistral event(s) not processed yet: %s' % (
            len(listing['events']), ', '.join('%s %s' % (e['event'], e['mistral_execution_id'])
                                             for e in listing['events'][:10])))


def build_parser():
    parser = argparse.ArgumentParser(
        prog='st2mistral-spool', description=__doc__.split('\n\n')[0])
    parser.add_argument('--state-dir', default=DEFAULT_STATE_DIR,
                        help='mistral.conf [st2] state_dir (default: %(default)s)')
    parser.add_argument('--json', action='store_true', help='JSON output')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('list', help='waiting and given-up updates, unprocessed events')
    for name, text in (('show', 'one st2 execution\'s update(s), with the result'),
                       ('retry', 'a given-up update back to waiting (tries reset)'),
                       ('drop', 'forget the update(s) of one st2 execution')):
        command = commands.add_parser(name, help=text)
        command.add_argument('execution_id', metavar='ST2_EXECUTION_ID')
        command.add_argument('--api-url', help='when updates for several st2 APIs wait')
        if name in ('retry', 'drop'):
            command.add_argument('--force', action='store_true',
                                 help='write even while a live Mistral process holds the slot')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not os.path.isdir(args.state_dir):
        print('st2mistral-spool: %s is not a directory: give [st2] state_dir of mistral.conf '
              'with --state-dir.' % args.state_dir, file=sys.stderr)
        return 2
    owner = os.stat(args.state_dir).st_uid
    if os.geteuid() != owner:
        # SQLite would create the -wal/-shm files as this user, and the Mistral
        # user could then no longer write its own spool.
        print('st2mistral-spool: run it as the user that owns %s (uid %d), e.g. "sudo -u '
              'mistral st2mistral-spool ...".' % (args.state_dir, owner), file=sys.stderr)
        return 2
    os.umask(0o077)
    try:
        if args.command == 'list':
            out = read(args.state_dir)
        elif args.command == 'show':
            out = show(args.state_dir, args.execution_id, args.api_url)
        elif args.command == 'retry':
            out = {'retried': retry(args.state_dir, args.execution_id, args.api_url,
                                    args.force)}
        else:
            out = {'dropped': drop(args.state_dir, args.execution_id, args.api_url,
                                   args.force)}
    except SpoolError as e:
        print('st2mistral-spool: %s' % e, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
    elif args.command == 'list':
        _print_list(out)
    elif args.command == 'show':
        for row in out:
            for key in sorted(row):
                print('%-22s %s' % (key, json.dumps(row[key], sort_keys=True)))
            print()
    else:
        print('%s: %d update(s) for st2 execution %s%s.' % (
            args.command, next(iter(out.values())), args.execution_id,
            '' if args.command == 'drop' else ' (sent by the next Mistral process to adopt '
            'the slot, within seconds of its start)'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
