"""StackStorm <-> OpenStack Mistral 23 bridge."""
