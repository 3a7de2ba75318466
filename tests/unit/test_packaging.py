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

"""The wheel holds the product (core, mistral_side, st2_side), not the test support."""

import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_wheel_ships_the_three_sides_and_not_the_test_support(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
                    '-w', str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300,
                   cwd=tmp_path)
    [wheel] = tmp_path.glob('st2mistral-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split('/')[1] for n in names if n.startswith('st2mistral/') and n.count('/') > 1}

    assert top == {'core', 'mistral_side', 'st2_side'}
    assert 'st2mistral/st2_side/runner.yaml' in names
    assert not [n for n in names if '/testing/' in n]
