#!/bin/bash
# Run a VMM that wants a terminal on its standard input and puts the guest's
# agent UART on a pty of its own, as the harness needs it: the VMM's output
# (the guest's console) goes to CONSOLE, its pid to PIDFILE, and the agent
# endpoint the harness expects is bridged to the pty the VMM names.
#
#   tty-vmm.sh CONSOLE PIDFILE AGENT PTY_REGEX COMMAND...
#
# AGENT is the harness's VM_AGENT: tty:DEVICE (a serial device of the test
# host) or socket:PATH (a Unix socket to listen on). PTY_REGEX is an
# extended regular expression whose first /dev/pts/N match in the VMM's
# output is the agent's pty (e.g. 'terminal 1 to pty /dev/pts/[0-9]+').
# Runs until the VMM exits, then exits with its status; the harness ends it
# by signalling its process group. Runs where the VMM runs (bash, socat and
# util-linux's script are there: the test host chroots into the host's root).
set -u

console=$1 pidfile=$2 agent=$3 pty_regex=$4
shift 4
[ $# -gt 0 ] || { echo "usage: tty-vmm.sh CONSOLE PIDFILE AGENT PTY_REGEX COMMAND..." >&2; exit 2; }

# script(1) gives the VMM a terminal; its own standard input is a pipe that
# never ends, so it never hands the VMM an end-of-file.
printf -v cmd '%q ' "$@"
sleep 2147483647 | SHELL=/bin/sh script -qfec "exec $cmd" /dev/null >"$console" 2>&1 &
script_pid=$!

# The VMM is script's child (the shell exec'd it).
pid=
for _ in $(seq 100); do
	pid=$(pgrep -P "$script_pid" | head -n 1)
	[ -n "$pid" ] && break
	sleep 0.1
done
if [ -z "$pid" ]; then
	echo "tty-vmm.sh: the VMM did not start" >&2
	exit 1
fi
echo "$pid" >"$pidfile"

pty=
for _ in $(seq 300); do
	pty=$(grep -aoE "$pty_regex" "$console" | grep -oE '/dev/pts/[0-9]+' | head -n 1)
	[ -n "$pty" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$pty" ]; then
	echo "tty-vmm.sh: no pty matching '$pty_regex' in the VMM's output" >&2
	wait "$script_pid"
	exit 1
fi

case $agent in
tty:*) socat "${agent#tty:},raw,echo=0" "$pty,raw,echo=0" </dev/null >/dev/null 2>&1 & ;;
socket:*) socat "UNIX-LISTEN:${agent#socket:},fork" "$pty,raw,echo=0" </dev/null >/dev/null 2>&1 & ;;
*)
	echo "tty-vmm.sh: unknown agent endpoint '$agent'" >&2
	exit 2
	;;
esac

wait "$script_pid"
