/* How a platform device ends the VM (guest reset, debug-exit) without
 * knowing about struct vm: the VMM hands it this hook. */
#ifndef VIREO_BASE_EXIT_HOOK_H
#define VIREO_BASE_EXIT_HOOK_H

struct exit_hook {
	void (*fn)(void *opaque, int status); /* any thread; first caller wins */
	void *opaque;
};

#endif
