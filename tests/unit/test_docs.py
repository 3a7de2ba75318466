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

"""The docs say what setup.cfg requires; the README stays short and its links resolve."""

import configparser
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def setup_cfg_requirements():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    base = cfg['options']['install_requires'].split()
    return base, cfg['options.extras_require']['mistral'].split()


def documented_lists(text):
    """The bullet lists of ``requirement`` lines of docs/install.rst, in order."""
    lists, current = [], []
    for line in text.splitlines():
        match = re.fullmatch(r'\* ``([^`]+)``', line.strip())
        if match:
            current.append(match.group(1))
        elif current:
            lists.append(current)
            current = []
    return lists + [current] if current else lists


def test_install_docs_list_what_setup_cfg_requires():
    base, mistral = setup_cfg_requirements()
    text = (ROOT / 'docs' / 'install.rst').read_text()
    section = text.split('What each half requires\n', 1)[1].split('\nOnce the package', 1)[0]

    assert documented_lists(section) == [base, mistral]


def test_documented_lists_see_a_missing_package():
    # The reader the test above relies on notices a package left out.
    section = '* ``a>=1``\n* ``b>=2``\n\ntext\n\n* ``c>=3``'
    assert documented_lists(section) == [['a>=1', 'b>=2'], ['c>=3']]
    assert documented_lists(section) != [['a>=1', 'b>=2'], ['c>=3', 'regex>=2022.1']]


def test_readme_fits_two_screens_and_its_links_resolve():
    text = (ROOT / 'README.rst').read_text()
    targets = re.findall(r'^\.\. _[^:]+: (\S+)$', text, flags=re.M)

    assert len(text.splitlines()) <= 120
    assert targets and [t for t in targets if not (ROOT / t).exists()] == []
    for command in ('tools/demo.sh', 'tools/test.sh'):
        assert (ROOT / command).exists() and '\n       %s\n' % command in text
