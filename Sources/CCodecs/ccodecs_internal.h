#ifndef CCODECS_INTERNAL_H
#define CCODECS_INTERNAL_H

#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <tiffio.h>

#include "ccodecs.h"

/* Where a library error lands: the first message, and the point to jump back to. */
typedef struct {
    jmp_buf buffer;
    char message[CCODECS_MESSAGE_CAPACITY];
    int has_message;
} ccodecs_jump;

/* libjpeg's error manager with a way back to our jump point. */
typedef struct {
    struct jpeg_error_mgr manager;
    ccodecs_jump *jump;
} ccodecs_jpeg_errors;

struct ccodecs_decoder {
    ccodecs_format format;
    ccodecs_info info;
    ccodecs_jump jump;
    FILE *file;
    /* Buffers owned by the decoder so that a longjmp cannot leak them. */
    void *scratch;

    png_structp png;
    png_infop png_info;
    int png_passes;

    struct jpeg_decompress_struct jpeg;
    ccodecs_jpeg_errors jpeg_errors;
    int jpeg_created;
    const uint8_t *exif;
    size_t exif_length;

    TIFF *tiff;
    int tiff_direct;
    uint16_t tiff_photometric;
    uint16_t tiff_planar;
    uint16_t tiff_samples;
};

void ccodecs_note(ccodecs_jump *jump, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void ccodecs_copy_message(const ccodecs_jump *jump, const char *fallback, char *message,
                          size_t capacity);

ccodecs_status ccodecs_png_open(ccodecs_decoder *decoder, const char *path);
ccodecs_status ccodecs_png_read(ccodecs_decoder *decoder, void *pixels);
void ccodecs_png_close(ccodecs_decoder *decoder);

ccodecs_status ccodecs_jpeg_open(ccodecs_decoder *decoder, const char *path);
ccodecs_status ccodecs_jpeg_read(ccodecs_decoder *decoder, void *pixels);
void ccodecs_jpeg_close(ccodecs_decoder *decoder);

ccodecs_status ccodecs_tiff_open(ccodecs_decoder *decoder, const char *path);
ccodecs_status ccodecs_tiff_read(ccodecs_decoder *decoder, void *pixels);
void ccodecs_tiff_close(ccodecs_decoder *decoder);

#endif
