#include <stdio.h>
int main(void) { puts("snnc"); return 0; }
