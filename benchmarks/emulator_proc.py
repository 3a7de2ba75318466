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

"""The strict st2 emulator in its own process, driven over stdin/stdout.

    python -m benchmarks.emulator_proc

Prints its API URL, then answers one JSON line per command line:

- ``add <n>``: creates n running executions -> list of their ids;
- ``count <status>``: how many executions have that status;
- end of input: stops.

Throughput runs it apart from the client under test so that the two do not
share one GIL, as they would not in production.
"""

import json
import sys

from benchmarks import harness
from st2mistral.testing.st2_emulator import St2Emulator


def main():
    with St2Emulator(tokens=(harness.TOKEN,)) as st2:
        print(json.dumps(st2.api_url), flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(' ')
            if command == 'add':
                reply = [st2.add_execution() for _ in range(int(arg))]
            elif command == 'count':
                reply = sum(1 for ex in st2.executions() if ex['status'] == arg)
            else:
                reply = {'error': 'unknown command %r' % command}
            print(json.dumps(reply), flush=True)


if __name__ == '__main__':
    main()
