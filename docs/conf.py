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

"""Sphinx configuration of the st2mistral docs (tools/test.sh -e docs builds them, warnings as errors)."""

project = 'st2mistral'
author = 'st2mistral developers'
copyright = 'st2mistral developers'
root_doc = 'index'
extensions = []
exclude_patterns = ['_build']
html_theme = 'alabaster'
# Literal blocks hold shell, ini and YAML; no highlighting guesses (and no warnings from them).
highlight_language = 'none'
