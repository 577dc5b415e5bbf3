# The fleet centre (src/fleet): bcrypt for `stoat fleet creds` comes from
# libcrypt (libxcrypt), which Debian builds with $2b$.
LDLIBS += -lcrypt
