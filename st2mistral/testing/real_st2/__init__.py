"""StackStorm's own code as a test fixture: build.py (cached venv), launcher.py (one process).

settings.py reads which st2 source, tags and Pythons to use from the environment;
server.py runs inside st2's venv. Used by tests/contract and tests/functional/real_st2.
"""
