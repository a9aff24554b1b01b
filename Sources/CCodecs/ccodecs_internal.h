#ifndef CCODECS_INTERNAL_H
#define CCODECS_INTERNAL_H

#include <setjmp.h>
#include <stdio.h>

#include <libheif/heif.h>
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
    uint64_t max_pixels;
    /* The caller's descriptor until a FILE or libtiff takes it (then -1). */
    int fd;
    FILE *file;
    /* Bytes the codec library holds, and may hold (see ccodecs_set_budget). */
    size_t memory_used;
    size_t memory_limit;
    /* Buffers owned by the decoder so that a longjmp cannot leak them. */
    void *scratch;
    /* Metadata blocks (see ccodecs_keep_exif), inside memory the codec library or scratch holds. */
    ccodecs_metadata metadata;

    png_structp png;
    png_infop png_info;
    int png_passes;

    struct jpeg_decompress_struct jpeg;
    ccodecs_jpeg_errors jpeg_errors;
    struct jpeg_progress_mgr jpeg_progress;
    int jpeg_created;
    /* The ICC profile joined from its APP2 segments (malloc'ed by libjpeg-turbo). */
    uint8_t *jpeg_icc;

    TIFF *tiff;
    int tiff_direct;
    uint16_t tiff_photometric;
    uint16_t tiff_planar;
    uint16_t tiff_samples;

    /* WebP: the whole file, in scratch. */
    size_t webp_size;

    struct heif_context *heif;
    struct heif_image_handle *heif_handle;
    /* libheif reads the file through the descriptor: where it is, and where the file ends. */
    int64_t heif_position;
    int64_t heif_file_size;
    /* Copies of the Exif item, the ICC profile and the XMP item (libheif hands out copies only). */
    uint8_t *heif_exif;
    uint8_t *heif_icc;
    uint8_t *heif_xmp;
};

void ccodecs_store_oriented_row(const ccodecs_info *info, float *samples, int32_t orientation, ptrdiff_t y,
                                const float *row);
void ccodecs_note(ccodecs_jump *jump, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void ccodecs_copy_message(const ccodecs_jump *jump, const char *fallback, char *message,
                          size_t capacity);

/* Records the claimed size; CCODECS_ERROR_TOO_LARGE when it exceeds decoder->max_pixels. */
ccodecs_status ccodecs_check_size(ccodecs_decoder *decoder, uint64_t width, uint64_t height);
/* Once the layout is known: half the decoded floats plus CCODECS_MEMORY_SLACK. */
void ccodecs_set_budget(ccodecs_decoder *decoder);
/* Counts `size` more bytes against the budget; 0 (with a note) when they do not fit. */
int ccodecs_take_memory(ccodecs_decoder *decoder, size_t size);
void ccodecs_return_memory(ccodecs_decoder *decoder, size_t size);
/* The note for an allocation the budget refuses. */
void ccodecs_note_budget(ccodecs_decoder *decoder);
/* A FILE over the decoder's descriptor, from its start; 0 with a note on failure. */
int ccodecs_open_file(ccodecs_decoder *decoder);
/* The size of the file behind the decoder's descriptor; CCODECS_ERROR_IO with a note on failure. */
ccodecs_status ccodecs_file_size(ccodecs_decoder *decoder, uint64_t *size);

/*
 * Records the image's EXIF (an "Exif\0\0" prefix, which some writers put in PNG and WebP
 * chunks too, is skipped) or ICC profile; a block over CCODECS_METADATA_LIMIT, or EXIF
 * without a TIFF byte-order mark, is dropped. The bytes must live as long as the decoder.
 */
void ccodecs_keep_exif(ccodecs_decoder *decoder, const uint8_t *bytes, size_t length);
void ccodecs_keep_icc(ccodecs_decoder *decoder, const uint8_t *bytes, size_t length);
/* Records the image's XMP packet; one over CCODECS_XMP_LIMIT is dropped. */
void ccodecs_keep_xmp(ccodecs_decoder *decoder, const uint8_t *bytes, size_t length);

/*
 * Widens `count` samples of `bit_depth` at `raw` to floats at `samples`. `raw` may be the
 * start of `samples` itself: samples are widened from the last, so none is overwritten
 * before it is read.
 */
void ccodecs_widen(float *samples, const void *raw, size_t count, int32_t bit_depth);

ccodecs_status ccodecs_png_open(ccodecs_decoder *decoder, const char *name);
ccodecs_status ccodecs_png_read(ccodecs_decoder *decoder, float *samples);
void ccodecs_png_close(ccodecs_decoder *decoder);

ccodecs_status ccodecs_jpeg_open(ccodecs_decoder *decoder, const char *name);
ccodecs_status ccodecs_jpeg_read(ccodecs_decoder *decoder, float *samples, int32_t orientation);
void ccodecs_jpeg_close(ccodecs_decoder *decoder);

ccodecs_status ccodecs_tiff_open(ccodecs_decoder *decoder, const char *name);
ccodecs_status ccodecs_tiff_read(ccodecs_decoder *decoder, float *samples);
void ccodecs_tiff_close(ccodecs_decoder *decoder);

/* Reads the whole file (held to the budget) once the header is accepted; nothing to close. */
ccodecs_status ccodecs_webp_open(ccodecs_decoder *decoder, const char *name);
ccodecs_status ccodecs_webp_read(ccodecs_decoder *decoder, float *samples);

/* HEIC and AVIF: the primary image, upright (libheif applies irot / imir / clap). */
ccodecs_status ccodecs_heif_open(ccodecs_decoder *decoder, const char *name);
ccodecs_status ccodecs_heif_read(ccodecs_decoder *decoder, float *samples);
void ccodecs_heif_close(ccodecs_decoder *decoder);

/* BMP through stb_image, read from the decoder's descriptor; nothing to close. */
ccodecs_status ccodecs_bmp_open(ccodecs_decoder *decoder, const char *name);
ccodecs_status ccodecs_bmp_read(ccodecs_decoder *decoder, float *samples);

#endif
