#ifndef CCODECS_H
#define CCODECS_H
/* placeholder until the codec shim lands */
int ccodecs_version(void);
#endif
