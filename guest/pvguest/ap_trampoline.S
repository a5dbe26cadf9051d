/* ap_trampoline.S: where an AP starts after SIPI. smp.c copies these bytes to
 * PVG_AP_TRAMP_BASE; they take the AP from real mode through 32-bit protected
 * mode into long mode on the BSP's page tables and jump to ap_entry64.
 * Only absolute addresses computed from PVG_AP_TRAMP_BASE are used inside. */
#include "layout.h"

#define TRAMP(x) (PVG_AP_TRAMP_BASE + (x) - ap_tramp_start)

	.section .rodata.ap_tramp, "a"
	.globl ap_tramp_start, ap_tramp_end
	.code16
ap_tramp_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdt_ptr - ap_tramp_start
	movl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $SEL_KCODE32, $TRAMP(tramp32)

	.code32
tramp32:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $CR4_BOOT, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl $CR0_BOOT, %eax
	movl %eax, %cr0
	ljmp $SEL_KCODE64, $ap_entry64

	.balign 8
tramp_gdt_ptr:
	.word GDT_BYTES - 1
	.long gdt
ap_tramp_end:
