#!/bin/sh
# Disassembles vireo's ACPI tables with ACPICA's iasl (the reference AML
# implementation) and checks that every table parses, its checksum is right,
# and the DSDT holds what guests look for. usage: acpi_iasl.sh ACPI_DUMP
set -u
command -v iasl >/dev/null || { echo "SKIPPED (iasl not installed: apt-get install acpica-tools)"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

dump=$(readlink -f "$1")
cd "$dir" || exit 1
"$dump" 3 || { echo "FAIL: acpi_dump"; exit 1; }
status=0
for t in XSDT FACP APIC MCFG DSDT; do
	if ! iasl -d "$t.dat" >"$t.log" 2>&1 || [ ! -s "$t.dsl" ]; then
		echo "FAIL: iasl cannot disassemble $t"; cat "$t.log"; status=1; continue
	fi
	if grep -qi "incorrect\|invalid" "$t.dsl"; then
		echo "FAIL: $t:"; grep -i "incorrect\|invalid" "$t.dsl"; status=1
	fi
	echo "ok   $t parses"
done
expect() { grep -q "$2" "$1.dsl" && echo "ok   $1: $2" || { echo "FAIL: $1 lacks '$2'"; status=1; }; }
expect DSDT 'Name (_S5, Package (0x02)'
expect DSDT 'Device (PCI0)'
expect DSDT 'EisaId ("PNP0501")'
expect DSDT 'IRQNoFlags ()'
expect DSDT 'EisaId ("PNP0A08")'
expect DSDT 'EisaId ("PNP0A03")'
expect DSDT 'WordBusNumber'
expect DSDT '0xFDFFFFFF'
expect DSDT 'Device (VR00)'
expect DSDT 'Name (_HID, "LNRO0005")'
expect DSDT 'Memory32Fixed (ReadWrite,'
expect DSDT '0xFE001000'
expect DSDT 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )'
expect DSDT '0x00000011,'
expect APIC 'Local Apic ID : 02'
expect APIC 'I/O Apic ID : 03'
expect FACP 'Hardware Reduced (V5) : 1'
expect FACP 'Reset Register Supported (V2) : 1'
expect MCFG 'Base Address : 00000000B0000000'
exit $status
