/* bzimage_header.S: the Linux boot-protocol setup sectors in front of the
 * flat image (Documentation/arch/x86/boot.rst, protocol 2.15). There is no
 * real-mode setup code: loaders must use the 32- or 64-bit entry. The Makefile
 * passes PAYLOAD (the flat binary) and IMAGE_END (the ELF's _end). */
#define SETUP_SECTS 1

	.code16
	.section .text, "ax"
	.globl _bz_start
_bz_start:
	.org 0x1f1
	.byte SETUP_SECTS		/* setup_sects */
	.word 0				/* root_flags */
	.long (payload_end - payload + 15) / 16	/* syssize */
	.word 0				/* ram_size */
	.word 0xffff			/* vid_mode: normal */
	.word 0				/* root_dev */
	.word 0xaa55			/* boot_flag */
	.byte 0xeb, hdr_end - _bz_start - 0x202	/* jmp over the header: its length */
	.ascii "HdrS"			/* header */
	.word 0x020f			/* version 2.15 */
	.long 0				/* realmode_swtch */
	.word 0				/* start_sys_seg */
	.word 0				/* kernel_version */
	.byte 0				/* type_of_loader */
	.byte 0x01			/* loadflags: LOADED_HIGH */
	.word 0				/* setup_move_size */
	.long 0x100000			/* code32_start */
	.long 0				/* ramdisk_image */
	.long 0				/* ramdisk_size */
	.long 0				/* bootsect_kludge */
	.word 0				/* heap_end_ptr */
	.byte 0				/* ext_loader_ver */
	.byte 0				/* ext_loader_type */
	.long 0				/* cmd_line_ptr */
	.long 0x7fffffff		/* initrd_addr_max */
	.long 0x100000			/* kernel_alignment: 1 MiB, as loaded */
	.byte 0				/* relocatable_kernel: load at pref_address only */
	.byte 20			/* min_alignment: 1 MiB */
	.word 0x0001			/* xloadflags: XLF_KERNEL_64 */
	.long 2047			/* cmdline_size */
	.long 0				/* hardware_subarch */
	.quad 0				/* hardware_subarch_data */
	.long 0				/* payload_offset */
	.long 0				/* payload_length */
	.quad 0				/* setup_data */
	.quad 0x100000			/* pref_address */
	.long IMAGE_END - 0x100000	/* init_size */
	.long 0				/* handover_offset */
	.long 0				/* kernel_info_offset */
hdr_end:
	/* A real-mode loader that jumps here gets a halted CPU. */
1:	cli
	hlt
	jmp 1b
	.org (SETUP_SECTS + 1) * 512
payload:
	.incbin PAYLOAD
	.balign 16, 0			/* syssize counts whole paragraphs */
payload_end:
