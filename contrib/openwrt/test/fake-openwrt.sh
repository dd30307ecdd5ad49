# A stand-in for OpenWrt's /lib/functions.sh and procd.sh: just enough to run
# an init script's start_service and service_triggers on a PC. Source it, then
# the init script, then call them: each procd instance is printed as lines
# "PARAM: ARG ...", an argument quoted '...' when it has other characters than
# letters, digits and _./:=@%+,-
#
# UCI_CONFIG_DIR is where config_load finds its files. Like `uci export`, whose
# output the real config_load evaluates, a UCI file is read as shell commands
# `config`, `option` and `list`, so keep test files to plain quoted values.
# Variables of this file start with _fake_ so as not to touch the script's.
# Variables assigned through eval, a file named at run time:
# shellcheck disable=SC2154,SC1090

config() { _fake_section=$2; }
option() { eval "CONFIG_${_fake_section}_$1=\$2"; }
list() {
	eval "_fake_n=\$((\${CONFIG_${_fake_section}_$1_LENGTH:-0} + 1))"
	eval "CONFIG_${_fake_section}_$1_ITEM$_fake_n=\$2"
	eval "CONFIG_${_fake_section}_$1_LENGTH=$_fake_n"
}

config_load() { . "${UCI_CONFIG_DIR:-/etc/config}/$1"; }

# config_get VAR SECTION OPTION [DEFAULT]: an empty option gives DEFAULT.
config_get() { eval "$1=\${CONFIG_$2_$3:-\$4}"; }

config_get_bool() {
	config_get "$@"
	eval "_fake_v=\$$1"
	case $_fake_v in
	1 | on | true | yes | enabled) _fake_v=1 ;;
	0 | off | false | no | disabled) _fake_v=0 ;;
	*) _fake_v=$4 ;;
	esac
	eval "$1=\$_fake_v"
}

# config_list_foreach SECTION OPTION FUNCTION [ARG ...]: FUNCTION ITEM ARG ...
config_list_foreach() {
	_fake_s=$1 _fake_o=$2 _fake_f=$3
	shift 3
	eval "_fake_len=\${CONFIG_${_fake_s}_${_fake_o}_LENGTH:-0}"
	_fake_i=1
	while [ "$_fake_i" -le "$_fake_len" ]; do
		eval "_fake_item=\$CONFIG_${_fake_s}_${_fake_o}_ITEM$_fake_i"
		"$_fake_f" "$_fake_item" "$@"
		_fake_i=$((_fake_i + 1))
	done
}

_fake_quote() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+,-]*) printf " '%s'" "$1" ;;
	*) printf ' %s' "$1" ;;
	esac
}

procd_open_instance() {
	_fake_params=
	echo "instance: ${1:-instance1}"
}

# Params keep the order in which they were first set; append adds arguments.
procd_set_param() {
	case " $_fake_params " in
	*" $1 "*) ;;
	*) _fake_params="$_fake_params $1" ;;
	esac
	eval "_fake_p_$1="
	procd_append_param "$@"
}

procd_append_param() {
	_fake_t=$1
	shift
	case " $_fake_params " in
	*" $_fake_t "*) ;;
	*) procd_set_param "$_fake_t" "$@"; return ;;
	esac
	for _fake_a in "$@"; do
		_fake_q=$(_fake_quote "$_fake_a")
		eval "_fake_p_$_fake_t=\"\${_fake_p_$_fake_t}\$_fake_q\""
	done
}

procd_close_instance() {
	for _fake_t in $_fake_params; do
		eval "printf '%s:%s\\n' \"\$_fake_t\" \"\${_fake_p_$_fake_t}\""
	done
}

procd_add_reload_trigger() { echo "reload trigger:$(for c in "$@"; do _fake_quote "$c"; done)"; }

# The init script's side effects on the file system are printed, not done.
mkdir() { echo "mkdir$(for a in "$@"; do _fake_quote "$a"; done)"; }
