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

"""The services a stock (multi-process) Mistral needs: is PostgreSQL or RabbitMQ
there, and a fresh PostgreSQL database per server."""

import urllib.parse

DEFAULT_DATABASE_ADMIN_URLS = (
    'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres',
    'postgresql+psycopg2://root@127.0.0.1:5432/postgres',
)
DEFAULT_TRANSPORT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'


def _redact_url(url):
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(':%s@' % parts.password, ':***@')
        return parts._replace(netloc=netloc).geturl()
    return url


def _postgres_connect(url, dbname=None, timeout=3):
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg2.connect(
        host=u.host or '127.0.0.1', port=u.port or 5432, user=u.username,
        password=u.password, dbname=dbname or u.database or 'postgres',
        connect_timeout=timeout)


def _reachable_postgres_admin_url(candidates):
    """The first admin URL we can log in with, or raise the last error."""
    last_error = None
    for url in candidates:
        try:
            _postgres_connect(url).close()
            return url
        except Exception as e:  # try the next user
            last_error = e
    raise last_error or RuntimeError('no PostgreSQL URL given')


def _check_rabbit(transport_url, timeout=3):
    import amqp

    parts = urllib.parse.urlsplit(transport_url)
    vhost = urllib.parse.unquote(parts.path[1:]) or '/'
    conn = amqp.Connection(
        host='%s:%s' % (parts.hostname or '127.0.0.1', parts.port or 5672),
        userid=urllib.parse.unquote(parts.username or 'guest'),
        password=urllib.parse.unquote(parts.password or 'guest'),
        virtual_host=vhost, connect_timeout=timeout)
    try:
        conn.connect()
    finally:
        conn.collect()


def services_available(database_url=None, transport_url=DEFAULT_TRANSPORT_URL):
    """(True, '') when PostgreSQL and RabbitMQ for the 'stock' topology answer.

    Otherwise (False, reason) for a pytest skip message.
    """
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return False, 'psycopg2 is not installed (pip install psycopg2-binary)'

    candidates = [database_url] if database_url else DEFAULT_DATABASE_ADMIN_URLS
    try:
        _reachable_postgres_admin_url(candidates)
    except Exception as e:
        return False, 'PostgreSQL not reachable at %s: %s' % (
            ', '.join(_redact_url(c) for c in candidates), str(e).strip())

    try:
        _check_rabbit(transport_url)
    except Exception as e:
        return False, 'RabbitMQ not reachable at %s: %s' % (
            _redact_url(transport_url), str(e).strip() or type(e).__name__)
    return True, ''


class FreshPostgresDatabase:
    """A PostgreSQL database made for one server instance and dropped after it."""

    def __init__(self, admin_url, name):
        self.admin_url = admin_url
        self.name = name
        self.url = None

    def create(self):
        from sqlalchemy.engine import make_url

        self._execute('CREATE DATABASE "%s"' % self.name)
        self.url = make_url(self.admin_url).set(database=self.name).render_as_string(
            hide_password=False)
        return self.url

    def drop(self):
        if self.url is not None:
            self._execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)
            self.url = None

    def _execute(self, statement):
        conn = _postgres_connect(self.admin_url)
        try:
            conn.autocommit = True  # CREATE/DROP DATABASE refuse transactions
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()
