/* Reads 55-byte records (traceparent-shaped) from stdin; for each prints "1 <32 hex><16 hex>" with
 * what fl_hex_ids decoded, or "0" when it judged a digit invalid. With the argument "any" it reads
 * 16-byte records and prints what fl_hex16_any decoded. Built by tests/test_hex_header.py. */
#include <stdio.h>
#include <string.h>
#include "_hex.h"

int main(int argc, char **argv) {
    unsigned char record[55], tid[16], sid[8];
    int i, any = argc > 1 && strcmp(argv[1], "any") == 0;
    size_t size = any ? 16 : sizeof record;
    while (fread(record, 1, size, stdin) == size) {
        if (any ? !fl_hex16_any(record, sid) : !fl_hex_ids(record, tid, sid)) {
            puts("0");
            continue;
        }
        printf("1 ");
        for (i = 0; !any && i < 16; i++) printf("%02x", tid[i]);
        for (i = 0; i < 8; i++) printf("%02x", sid[i]);
        putchar('\n');
    }
    printf("decoder %s\n", FL_HEX_DECODER);
    return 0;
}
