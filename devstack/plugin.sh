# shellcheck shell=bash
# devstack/plugin.sh for st2mistral: puts StackStorm's Mistral plugins (the
# st2 notification publisher, st2.action, expression functions, st2 auth)
# into Mistral's Python environment and points mistral.conf at st2.
#
# stack.sh sources this file as `plugin.sh <mode> [phase]`:
#   stack install      install this repository into Mistral's environment
#   stack post-config  write [st2] and [notifier] (and auth) into mistral.conf
#   stack extra        check that Mistral's Python loads the plugins
#   unstack, clean     nothing of ours runs or outlives Mistral's own cleanup
#
# Variables: see devstack/settings and devstack/README.rst.

# Save trace setting (the name is ours: other plugins use XTRACE)
_ST2MISTRAL_XTRACE=$(set +o | grep xtrace)
set -o xtrace

# mistral.conf as Mistral's devstack plugin names it.
function _st2mistral_conf_file {
    echo "${MISTRAL_CONF_FILE:-${MISTRAL_CONF_DIR:-/etc/mistral}/mistral.conf}"
}

# Mistral's public API base URL, for st2's callbacks to st2.action.
function _st2mistral_mistral_api_url {
    if [[ -n "${ST2_MISTRAL_API_URL:-}" ]]; then
        echo "$ST2_MISTRAL_API_URL"
    elif [[ -n "${MISTRAL_SERVICE_HOST:-}" ]]; then
        echo "${MISTRAL_SERVICE_PROTOCOL:-http}://${MISTRAL_SERVICE_HOST}:${MISTRAL_SERVICE_PORT:-8989}/v2"
    fi
}

# Refuse a notify value Mistral would choke on: oslo.config needs a JSON list
# of objects, each naming its publisher `type`.
function _st2mistral_check_notify {
    local problem
    problem=$("${PYTHON:-python3}" -c '
import json, sys
try:
    entries = json.loads(sys.argv[1])
except ValueError as exc:
    sys.exit("is not JSON (%s)" % exc)
if not isinstance(entries, list) or not entries:
    sys.exit("must be a non-empty JSON list, e.g. [{\"type\": \"st2\"}]")
if not all(isinstance(e, dict) and e.get("type") for e in entries):
    sys.exit("needs a \"type\" in every entry")
' "$ST2MISTRAL_NOTIFY" 2>&1) || die $LINENO "ST2MISTRAL_NOTIFY $problem"
}

function install_st2mistral {
    setup_develop "$ST2MISTRAL_DIR"
}

# Mistral before 23 writes each workflow execution's params (the env holding the
# st2 auth token) to its log at INFO through these three loggers: keep them at
# WARN (on 23 they log no params; the setting does no harm there). The option
# replaces oslo.log's defaults, so a conf without it gets those plus ours.
function _st2mistral_quiet_params_loggers {
    local conf=$1 levels logger
    levels=$(iniget "$conf" DEFAULT default_log_levels)
    if [[ -z "$levels" ]]; then
        levels=$("${PYTHON:-python3}" -c \
            'from oslo_log import log; print(",".join(log.get_default_log_levels()))') ||
            die $LINENO "cannot read oslo.log's default_log_levels with ${PYTHON:-python3}"
    fi
    for logger in mistral.api.controllers.v2.execution mistral.rpc.clients \
                  mistral.engine.engine_server; do
        if [[ ",$levels," != *",$logger="* ]]; then
            levels+=",$logger=WARN"
        fi
    done
    iniset "$conf" DEFAULT default_log_levels "$levels"
}

function configure_st2mistral {
    local conf
    conf=$(_st2mistral_conf_file)
    if [[ ! -f "$conf" ]]; then
        die $LINENO "$conf not found: enable_plugin mistral must come before" \
            "enable_plugin st2mistral in local.conf"
    fi

    iniset "$conf" st2 api_url "$ST2_API_URL"
    iniset "$conf" st2 auth_url "$ST2_AUTH_URL"
    iniset "$conf" st2 insecure "$ST2_INSECURE"
    if [[ -n "$ST2_CA_FILE" ]]; then
        [[ -f "$ST2_CA_FILE" ]] || warn $LINENO "ST2_CA_FILE $ST2_CA_FILE does not exist (yet)"
        iniset "$conf" st2 ca_file "$ST2_CA_FILE"
    fi
    if [[ -n "$ST2_ALLOWED_API_URLS" ]]; then
        iniset "$conf" st2 allowed_api_urls "$ST2_ALLOWED_API_URLS"
    fi
    local mistral_api_url
    mistral_api_url=$(_st2mistral_mistral_api_url)
    if [[ -n "$mistral_api_url" ]]; then
        iniset "$conf" st2 mistral_api_url "$mistral_api_url"
    fi

    # The key must not reach the xtrace log: stop tracing before the line
    # that expands it, as devstack does around passwords.
    local xtrace
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    if [[ -n "${ST2_API_KEY:-}" ]]; then
        iniset "$conf" st2 api_key "$ST2_API_KEY"
    fi
    $xtrace

    iniset "$conf" notifier type "$ST2MISTRAL_NOTIFIER_TYPE"
    if [[ "$ST2MISTRAL_GLOBAL_NOTIFY" == "True" ]]; then
        _st2mistral_check_notify
        iniset "$conf" notifier notify "$ST2MISTRAL_NOTIFY"
    fi

    _st2mistral_quiet_params_loggers "$conf"

    # Mistral picks its auth handler by [DEFAULT] auth_type (entry point
    # namespace mistral.auth) and calls it only when [pecan] auth_enable.
    if [[ "$ST2MISTRAL_ENABLE_ST2_AUTH" == "True" ]]; then
        iniset "$conf" DEFAULT auth_type st2
        iniset "$conf" pecan auth_enable True
    fi
}

# Fail the run here, with the reason, rather than leave a Mistral that
# silently publishes nothing or answers 401 to every request.
function check_st2mistral {
    local names="mistral.notification.publishers:st2"
    if [[ "$ST2MISTRAL_ENABLE_ST2_AUTH" == "True" ]]; then
        names+=" mistral.auth:st2"
    fi
    # shellcheck disable=SC2086  # one argument per entry point
    "${PYTHON:-python3}" -c '
import sys
from stevedore import driver
for item in sys.argv[1:]:
    namespace, name = item.split(":")
    driver.DriverManager(namespace, name, invoke_on_load=False)
    print("st2mistral: %s %s loads" % (namespace, name))
' $names || die $LINENO "Mistral's Python (${PYTHON:-python3}) cannot load st2mistral's plugins"
}

if is_service_enabled st2mistral; then
    if [[ "$1" == "stack" ]] && ! is_service_enabled mistral; then
        die $LINENO "st2mistral needs Mistral: enable_plugin mistral before enable_plugin st2mistral"
    fi

    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing st2mistral into Mistral's environment"
        install_st2mistral
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring Mistral for StackStorm (st2mistral)"
        configure_st2mistral
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Checking that Mistral loads st2mistral"
        check_st2mistral
    fi

    if [[ "$1" == "unstack" ]]; then
        # st2mistral runs inside Mistral's processes: nothing of ours to stop.
        :
    fi

    if [[ "$1" == "clean" ]]; then
        # Mistral's clean removes $MISTRAL_CONF_DIR, which holds all we wrote.
        :
    fi
fi

# Restore xtrace
$_ST2MISTRAL_XTRACE

# Local variables:
# mode: shell-script
# End:
