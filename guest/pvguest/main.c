/* main.c: the BSP's life in ring 3. Report READY with the time since entry,
 * echo the command line, run the chosen test, then end the VM: debug-exit
 * (0 all passed, 1 a failure), else an i8042 reset, else halt. */
#include "boot.h"
#include "cpu.h"
#include "lib.h"
#include "tests.h"

#define DEBUG_EXIT_PORT 0x501
#define I8042_CMD       0x64
#define I8042_RESET     0xfe

static char cmdline_copy[4096];

static void copy_cmdline(void)
{
	uint64_t pa = boot_info.cmdline_paddr;

	/* GUEST: only the mapped range is read; tests_boot.c checks the rest. */
	if (!pa || pa >= boot_info.mapped_end)
		return;
	uint64_t max = boot_info.mapped_end - pa;
	if (max > sizeof(cmdline_copy) - 1)
		max = sizeof(cmdline_copy) - 1;
	size_t n = strnlen((const char *)pa, max);
	memcpy(cmdline_copy, (const void *)pa, n);
	cmdline_copy[n] = 0;
}

static __noreturn void vm_end(int failed)
{
	outb(DEBUG_EXIT_PORT, failed ? 1 : 0);
	outb(I8042_CMD, I8042_RESET);
	svc_halt();
}

void main_bsp(uint64_t unused)
{
	(void)unused;
	/* The boot protocol leaves .bss to the kernel and not every ELF loader
	 * clears it. Ring 0 keeps nothing there (pvguest.ld); here it is cheap. */
	memset(__bss_start, 0, __bss_end - __bss_start);
	__asm__ volatile("fninit");
	handoff_parse(boot_kind, boot_ptr, &boot_info);
	paging_map_high(&boot_info);
	time_init();
	uint64_t t_ns = time_since_entry_ns();
	serial_init();
	printf("PVGUEST READY t_us=%lu\n", t_ns / 1000);
	copy_cmdline();
	puts_raw("PVGUEST CMDLINE ");
	puts_raw(cmdline_copy);
	puts_raw("\n");
	vm_end(tests_run(cmdline_copy));
}
