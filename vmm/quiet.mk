# SPDX-License-Identifier: MIT
# Quiet build lines unless V=1: $(Q) before a command, $(call msg,VERB,WHAT)
# to print one short line instead.
ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif
