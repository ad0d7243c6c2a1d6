/* Reads 55-byte records (traceparent-shaped) from stdin; for each prints "1 <32 hex><16 hex>" with
 * what fl_hex_ids decoded, or "0" when it judged a digit invalid. Built by tests/test_hex_header.py. */
#include <stdio.h>
#include "_hex.h"

int main(void) {
    unsigned char record[55], tid[16], sid[8];
    int i;
    while (fread(record, 1, sizeof record, stdin) == sizeof record) {
        if (!fl_hex_ids(record, tid, sid)) {
            puts("0");
            continue;
        }
        printf("1 ");
        for (i = 0; i < 16; i++) printf("%02x", tid[i]);
        for (i = 0; i < 8; i++) printf("%02x", sid[i]);
        putchar('\n');
    }
    printf("decoder %s\n", FL_HEX_DECODER);
    return 0;
}
