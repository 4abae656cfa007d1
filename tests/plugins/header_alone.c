/* The plugin ABI header compiles on its own, with every warning an error:
 * a plugin needs nothing else from restfcgi. Built, never run. */
#include "restfcgi_plugin.h"

int header_alone_marker(void);
int header_alone_marker(void) { return RESTFCGI_PLUGIN_ABI_MAJOR; }
