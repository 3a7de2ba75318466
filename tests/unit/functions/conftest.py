from oslo_config import cfg
import pytest


@pytest.fixture(autouse=True)
def allowed_st2_urls():
    """st2kv goes through the shared client, which only talks to configured st2 URLs."""
    cfg.CONF.set_override('allowed_api_urls',
                          ['http://st2.example:9101/v1', 'http://st2.test/v1'], group='st2')
    yield
    cfg.CONF.clear_override('allowed_api_urls', group='st2')
