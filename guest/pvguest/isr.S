/* isr.S: ring transitions. The IDT (built here by the assembler), exception
 * stubs (all fatal), the service gate (int3 from ring 3), the iretq into
 * ring 3, and the 64-bit landing point of the APs. Ring 0 never uses SSE, so
 * nothing here saves vector state. */
#include "layout.h"

/* 32 exception stubs, 16 bytes apart, then svc_entry: at PVG_ISR_BASE. */
	.section .text.isr, "ax"
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 32
	.balign PVG_ISR_STUB_SIZE
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0			/* no error code: keep the frame uniform */
	.endif
	pushq $vec
	jmp isr_fatal
	.set vec, vec + 1
	.endr

/* #BP: from ring 3 a service call (%eax = service, %rdi/%rsi/%rdx =
 * arguments; returns in %rax, every other register is preserved), from
 * ring 0 a fatal breakpoint, unless svc_r0_probe armed it: then it records
 * where the CPU would return to and returns there. */
	.org 32 * PVG_ISR_STUB_SIZE
	.globl svc_entry
svc_entry:
	testb $3, 8(%rsp)		/* the interrupted CS */
	jnz 1f
	cmpl $0, r0_bp_armed(%rip)
	je 2f
	movl $0, r0_bp_armed(%rip)
	pushq %rax
	movq 8(%rsp), %rax		/* the interrupted RIP */
	movq %rax, r0_bp_rip(%rip)
	popq %rax
	iretq
2:	pushq $0
	pushq $SVC_VECTOR
	jmp isr_fatal
1:	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	subq $8, %rsp			/* the CPU left %rsp at 8 mod 16 */
	movq %rax, %rcx
	call svc_dispatch
	addq $8, %rsp
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	iretq

/* LSTAR while test r0-insns runs: returns the CS that SYSCALL entered
 * with in %rax and goes back to ring 3 at %rcx with %r11's flags. */
	.globl syscall_probe_entry
syscall_probe_entry:
	movq %rsp, %r10
	movl %cs, %eax
	pushq $(SEL_UDATA | 3)
	pushq %r10
	pushq %r11
	pushq $(SEL_UCODE64 | 3)
	pushq %rcx
	iretq

isr_fatal:
	movq %rsp, %rdi			/* struct trap_frame: vec, err, rip, cs, rflags, rsp, ss */
	andq $-16, %rsp
	call trap_fatal
1:	cli
	hlt
	jmp 1b

	.text

/* ring3_enter(arg, fn, stack_top): never returns. fn(arg) runs in ring 3 with
 * IF=0 and IOPL=3 (PVM drops IOPL; cpu.c's TSS I/O bitmap covers that); if fn
 * returns, the CPU halts through the service gate. */
	.globl ring3_enter
ring3_enter:
	pushq $(SEL_UDATA | 3)
	pushq %rdx
	pushq $RFLAGS_USER
	pushq $(SEL_UCODE64 | 3)
	leaq ring3_start(%rip), %rax
	pushq %rax
	iretq
ring3_start:
	xorl %ebp, %ebp
	call *%rsi
1:	movl $SVC_HALT, %eax
	int3
	jmp 1b

/* APs arrive here from ap_trampoline.S in 64-bit mode on our page tables,
 * take the next CPU slot and its ring-0 stack, then go on in cpu.c. */
	.globl ap_entry64
ap_entry64:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movl $1, %eax
	lock xaddl %eax, ap_next_slot(%rip)
	cmpl $PVG_MAX_CPUS, %eax
	jae 2f
	movl %eax, %edi
	leal 1(%rax), %eax
	shlq $12, %rax
	.if PVG_KSTACK_SIZE != 4096
	.error "ap_entry64 assumes 4 KiB ring-0 stacks"
	.endif
	leaq ap_kstacks - PVG_KSTACK_SIZE(%rip), %rsp
	addq %rax, %rsp
	call r0_ap_main
2:	cli
	hlt
	jmp 2b

	.data
	.balign 4
	.globl ap_next_slot
ap_next_slot:	.long 1			/* slot 0 is the BSP */

/* The IDT: 64-bit interrupt gates (IF cleared on entry), the 32 exceptions
 * only: a stray interrupt lies beyond the limit and raises #GP. */
	.macro gate addr, type
	.word (\addr) & 0xffff, SEL_KCODE64
	.byte 0, \type
	.word ((\addr) >> 16) & 0xffff
	.long 0, 0			/* the image lies below 4 GiB */
	.endm
	.balign 16
	.globl idt
idt:
	.set vec, 0
	.rept 32
	.if vec == SVC_VECTOR
	.set stub, PVG_SVC_ENTRY
	gate stub, 0xee			/* DPL 3: ring 3 may raise it */
	.else
	.set stub, PVG_ISR_BASE + vec * PVG_ISR_STUB_SIZE
	gate stub, 0x8e
	.endif
	.set vec, vec + 1
	.endr
idt_end:
	.balign 8
	.word 0, 0, 0
	.globl idt_ptr
idt_ptr:	.word idt_end - idt - 1
		.quad idt

	.section .noinit, "aw", @nobits
	.balign 16
	.globl ap_kstacks
ap_kstacks:	.skip PVG_KSTACK_SIZE * (PVG_MAX_CPUS - 1)
