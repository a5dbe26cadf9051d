/* layout.h: constants shared by the assembly and the C of pvguest.
 * Plain #defines only, so that .S files can include it. Nothing here
 * allocates memory; the linker script and the sources do. */
#ifndef PVGUEST_LAYOUT_H
#define PVGUEST_LAYOUT_H

#define PVG_LOAD_ADDR     0x100000      /* both boot forms load the image here */
/* The exception stubs and the service entry sit at fixed addresses so that
 * the assembler can build the IDT (no ring-0 loop); pvguest.ld asserts it. */
#define PVG_ISR_BASE      (PVG_LOAD_ADDR + 0x400)
#define PVG_ISR_STUB_SIZE 16
#define PVG_SVC_ENTRY     (PVG_ISR_BASE + 32 * PVG_ISR_STUB_SIZE)
#define PVG_MAX_CPUS      64
#define PVG_KSTACK_SIZE   4096          /* per-CPU ring-0 stack (traps, services) */
#define PVG_USTACK_SIZE   16384         /* per-AP ring-3 stack */
#define PVG_BSP_USTACK    65536         /* the BSP's ring-3 stack (tests run there) */
#define PVG_AP_TRAMP_BASE 0x8000        /* SIPI vector 0x08; below 1 MiB */
#define PVG_HIGH_PD_PAGES 60            /* RAM above 4 GiB is mapped up to 64 GiB */

/* GDT selectors. KCODE32 is only used by the AP trampoline on its way up. */
#define SEL_KCODE64  0x08
#define SEL_KDATA    0x10
#define SEL_UDATA    0x18
#define SEL_UCODE64  0x20
#define SEL_KCODE32  0x28
#define SEL_TSS0     0x30               /* CPU slot i uses SEL_TSS0 + 16 * i */
#define GDT_BYTES    (SEL_TSS0 + 16 * PVG_MAX_CPUS)

/* Ring-0 control state loaded by every entry path. */
#define CR0_BOOT     0x80000033         /* PG | NE | ET | MP | PE; EM and TS clear */
#define CR0_PE       0x00000001
#define CR4_BOOT     0x00000620         /* OSXMMEXCPT | OSFXSR | PAE */
#define MSR_EFER     0xc0000080
#define EFER_LME     0x00000100
#define RFLAGS_USER  0x00003002         /* IOPL=3, IF=0, reserved bit 1 */

/* Which hand-off the entry code received (boot_kind). */
#define BOOT_KIND_PVH        1          /* %ebx = struct hvm_start_info */
#define BOOT_KIND_BOOTPARAMS 2          /* %rsi / %esi = struct boot_params */

/* Ring-0 services: ring 3 executes int3, %eax = service number. Not "int n":
 * PVM turns any int n in guest ring 3 into #UD, while #BP is delivered. A #BP
 * from ring 0 is fatal unless svc_r0_probe armed it (r0_bp_armed). */
#define SVC_VECTOR   3
#define SVC_HALT     0                  /* halt this CPU forever */
#define SVC_R0_PROBE 1                  /* run int3 and fwait in ring 0 */
#define SVC_R0_CPUID 2                  /* CPUID leaf a0, subleaf a1, in ring 0 */
#define SVC_R0_SYSCALL 3                /* point LSTAR at syscall_probe_entry */
#define SVC_COUNT    4

#endif
