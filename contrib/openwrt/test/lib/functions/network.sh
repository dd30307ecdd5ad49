# A stand-in for OpenWrt's /lib/functions/network.sh (the init script sources
# "$IPKG_INSTROOT/lib/functions/network.sh"): network_get_ipaddr VAR INTERFACE
# gives the address in FAKE_IPADDR_<INTERFACE>, empty when the interface is down.
# shellcheck shell=sh
network_get_ipaddr() { eval "$1=\${FAKE_IPADDR_$2:-}"; }
