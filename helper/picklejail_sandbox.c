/* picklejail-sandbox: the fork server (sandbox/server.c) as a statically
 * linked program of its own.
 *
 * Why a separate program: every sandboxed scan starts a child from the fork
 * server, and creating and ending a process costs in proportion to what it
 * maps.  The CLI needs cJSON, which Debian ships only as a shared library,
 * so the CLI started again as the server maps libc, libcjson and the
 * dynamic linker: 142 us per child here against 96 us from a static server
 * (docs/sandbox.md, "Performance").  This program is the library and
 * nothing else, linked statically as a position-independent executable.
 *
 * The server starts in a constructor in sandbox/server.c, before main(),
 * when picklejail started this program with PJ_SANDBOX_SERVER in its
 * environment; main() only runs when someone starts it by hand. */
#include "sandbox.h"

int main(void)
{
    return pj_sandbox_helper_main();
}
