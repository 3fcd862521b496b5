// Debian's libsqlite3-dev (scripts/setup.sh installs it): the built-in broker's store.
#include <sqlite3.h>
