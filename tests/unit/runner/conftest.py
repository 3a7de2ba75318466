import pytest

from tests.unit.runner import standin


@pytest.fixture(scope='session')
def st2common_standin():
    return standin.install()
