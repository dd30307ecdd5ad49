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
chown() { echo "chown$(for a in "$@"; do _fake_quote "$a"; done)"; }

# procd's jail, validation and triggers: printed.
procd_add_jail() { echo "jail:$(for a in "$@"; do _fake_quote "$a"; done)"; }
procd_add_jail_mount() { echo "jail mount:$(for a in "$@"; do _fake_quote "$a"; done)"; }
procd_add_jail_mount_rw() { echo "jail mount rw:$(for a in "$@"; do _fake_quote "$a"; done)"; }
procd_add_interface_trigger() { echo "interface trigger:$(for a in "$@"; do _fake_quote "$a"; done)"; }
# Called with the validation function, as procd's: it must describe the options (a
# call with no section, as `/etc/init.d/NAME validate` makes) without failing.
procd_add_validation() {
	_fake_describe=1
	"$@" >/dev/null
	echo "validation: $1"
	_fake_describe=
}

# _fake_valid TYPE VALUE: the datatypes of OpenWrt's validate_data this script uses.
_fake_valid() {
	case $1 in
	bool) case $2 in 0 | 1 | on | off | true | false | yes | no | enabled | disabled) return 0 ;; esac; return 1 ;;
	string | 'list(string)') return 0 ;;
	uciname) case $2 in '' | *[!A-Za-z0-9_]*) return 1 ;; esac; return 0 ;;
	port) _fake_valid 'range(0,65535)' "$2" ;;
	'range('*)
		case $2 in '' | *[!0-9]*) return 1 ;; esac
		_fake_r=${1#range\(}
		_fake_r=${_fake_r%\)}
		[ "$2" -ge "${_fake_r%,*}" ] && [ "$2" -le "${_fake_r#*,}" ] ;;
	ipaddr)
		case $2 in
		*:*:*) case $2 in *[!0-9A-Fa-f:.]* | *:::*) return 1 ;; esac; return 0 ;;
		*:*) return 1 ;;
		*[!0-9.]* | *..* | .* | *.) return 1 ;;
		*.*.*.*.*) return 1 ;;
		*.*.*.*) return 0 ;;
		esac
		return 1 ;;
	'or('*)
		_fake_alts=${1#or\(}
		case ",${_fake_alts%\)}," in *",\"$2\","*) return 0 ;; esac
		return 1 ;;
	*) echo "fake-openwrt: no datatype $1" >&2; return 1 ;;
	esac
}

# uci_load_validate PACKAGE TYPE SECTION CALLBACK SPEC...: as /lib/functions/procd.sh's: each
# option of SECTION (config_load done) is checked against its SPEC NAME:TYPE[:DEFAULT] and
# assigned (the default when unset); then CALLBACK SECTION RESULT, RESULT 0 when all are valid.
# A list option is checked item by item and left to config_list_foreach.
uci_load_validate() {
	_fake_section=$3 _fake_callback=$4 _fake_result=0
	shift 4
	for _fake_spec in "$@"; do
		_fake_name=${_fake_spec%%:*}
		_fake_rest=${_fake_spec#*:}
		# No type of this script has a colon in it.
		_fake_type=${_fake_rest%%:*}
		_fake_default=${_fake_rest#"$_fake_type"}
		_fake_default=${_fake_default#:}
		[ -z "$_fake_describe" ] || continue
		case $_fake_type in
		'list('*)
			eval "_fake_len=\${CONFIG_${_fake_section}_${_fake_name}_LENGTH:-0}"
			continue ;;
		esac
		eval "_fake_value=\${CONFIG_${_fake_section}_${_fake_name}:-\$_fake_default}"
		if [ -n "$_fake_value" ] && ! _fake_valid "$_fake_type" "$_fake_value"; then
			echo "validation: $_fake_section.$_fake_name: '$_fake_value' is not a $_fake_type" >&2
			_fake_result=1
		fi
		[ "$_fake_type" != bool ] || case $_fake_value in
			1 | on | true | yes | enabled) _fake_value=1 ;;
			*) _fake_value=0 ;;
		esac
		eval "$_fake_name=\$_fake_value"
	done
	[ -n "$_fake_describe" ] || "$_fake_callback" "$_fake_section" "$_fake_result"
}
