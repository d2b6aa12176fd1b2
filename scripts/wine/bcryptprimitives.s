# The DLL's entry point: accept every attach and detach.
	.text
	.globl	DllMain
DllMain:
	movl	$1, %eax
	ret
