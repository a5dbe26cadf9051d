/* entry.S: the three ways into pvguest and the way on to 64-bit C.
 * PVH (32-bit, paging off, %ebx = hvm_start_info), the 32-bit boot protocol
 * entry at payload offset 0 (%esi = boot_params) and the 64-bit boot protocol
 * entry at payload offset 0x200 (%rsi = boot_params). Each reads the TSC first. */
#include "layout.h"

	.section .note.pvh, "a", @note
	.balign 4
	.long 4, 4, 18			/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start32

	.section .text.head, "ax"
	.code32
	.globl startup_32
startup_32:				/* payload offset 0 */
	rdtsc
	movl %esi, %ebx
	movl $BOOT_KIND_BOOTPARAMS, %edi
	jmp to_long

	.globl pvh_start32
pvh_start32:
	rdtsc
	movl $BOOT_KIND_PVH, %edi
to_long:
	movl %eax, entry_tsc
	movl %edx, entry_tsc + 4
	movl %ebx, boot_ptr
	movl %edi, boot_kind
	lgdt gdt_ptr
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
	ljmp $SEL_KCODE64, $long_entry

	.org 0x200
	.code64
	.globl startup_64
startup_64:				/* payload offset 0x200 */
	rdtsc
	movl %eax, entry_tsc(%rip)
	movl %edx, entry_tsc + 4(%rip)
	movq %rsi, boot_ptr(%rip)
	movl $BOOT_KIND_BOOTPARAMS, boot_kind(%rip)
	leaq bsp_kstack + PVG_KSTACK_SIZE(%rip), %rsp
	lgdt gdt_ptr(%rip)
	movl $pml4, %eax
	movq %rax, %cr3
	movl $CR4_BOOT, %eax
	movq %rax, %cr4
	movl $CR0_BOOT, %eax
	movq %rax, %cr0
	pushq $SEL_KCODE64
	leaq long_entry(%rip), %rax
	pushq %rax
	lretq

long_entry:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	leaq bsp_kstack + PVG_KSTACK_SIZE(%rip), %rsp
	call r0_bsp_main
1:	cli
	hlt
	jmp 1b

	.data
	.balign 8
	.globl entry_tsc, boot_ptr, boot_kind, gdt_ptr
entry_tsc:	.quad 0
boot_ptr:	.quad 0
boot_kind:	.long 0
	.balign 8
	.word 0, 0, 0
gdt_ptr:	.word GDT_BYTES - 1
		.quad gdt

/* Identity map of the low 4 GiB with 2 MiB user-accessible pages, built by the
 * assembler so that no interpreted ring-0 loop has to write it. */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4, pdpt
pml4:	.quad pdpt + 0x07
	.fill 511, 8, 0
pdpt:	.quad pd_low + 0x07, pd_low + 0x1007, pd_low + 0x2007, pd_low + 0x3007
	.fill 508, 8, 0
pd_low:
	.set addr, 0
	.rept 2048
	.quad addr + 0x87		/* P | RW | US | PS */
	.set addr, addr + 0x200000
	.endr

	.section .noinit, "aw", @nobits
	.balign 16
	.globl bsp_kstack
bsp_kstack:	.skip PVG_KSTACK_SIZE
