#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccodecs_internal.h"

static void png_fail(png_structp png, png_const_charp reason) {
    ccodecs_jump *jump = png_get_error_ptr(png);
    ccodecs_note(jump, "%s", reason);
    longjmp(jump->buffer, 1);
}

/* libpng warnings (bad ancillary CRCs, unknown sRGB profiles...) leave a usable image. */
static void png_ignore_warning(png_structp png, png_const_charp reason) {
    (void)png;
    (void)reason;
}

static void png_read_file(png_structp png, png_bytep data, size_t length) {
    FILE *file = png_get_io_ptr(png);
    if (fread(data, 1, length, file) != length)
        png_error(png, ferror(file) ? "read error" : "unexpected end of file");
}

static void png_write_file(png_structp png, png_bytep data, size_t length) {
    FILE *file = png_get_io_ptr(png);
    if (fwrite(data, 1, length, file) != length) png_error(png, strerror(errno));
}

static void png_flush_file(png_structp png) {
    FILE *file = png_get_io_ptr(png);
    if (fflush(file) != 0) png_error(png, strerror(errno));
}

static int host_is_little_endian(void) {
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1;
}

/*
 * libpng allocates through the decoder's budget. Each block carries its size in front,
 * aligned as malloc aligns, so that freeing it can give the bytes back.
 */
typedef union {
    size_t size;
    max_align_t alignment;
} png_block_header;

static png_voidp png_budget_malloc(png_structp png, png_alloc_size_t size) {
    ccodecs_decoder *decoder = png_get_mem_ptr(png);
    if (size > SIZE_MAX - sizeof(png_block_header) || !ccodecs_take_memory(decoder, size)) return NULL;
    png_block_header *block = malloc(sizeof *block + size);
    if (block == NULL) {
        ccodecs_return_memory(decoder, size);
        return NULL;
    }
    block->size = size;
    return block + 1;
}

static void png_budget_free(png_structp png, png_voidp pointer) {
    if (pointer == NULL) return;
    png_block_header *block = (png_block_header *)pointer - 1;
    ccodecs_return_memory(png_get_mem_ptr(png), block->size);
    free(block);
}

static uint32_t big_endian_32(const uint8_t *bytes) {
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

/*
 * IHDR must be the first chunk (PNG section 5.6), so its claimed size is checked here,
 * before libpng reads a byte, even when the rest of the file is missing. A file that does
 * not start so is left to libpng to describe.
 */
static ccodecs_status check_header_chunk(ccodecs_decoder *decoder) {
    uint8_t head[24];
    if (pread(decoder->fd, head, sizeof head, 0) != (ssize_t)sizeof head || memcmp(head + 12, "IHDR", 4) != 0)
        return CCODECS_OK;
    uint32_t width = big_endian_32(head + 16), height = big_endian_32(head + 20);
    if (width > PNG_UINT_31_MAX || height > PNG_UINT_31_MAX) return CCODECS_OK;
    return ccodecs_check_size(decoder, width, height);
}

/* The channels the expansions below deliver: palette to RGB, tRNS to alpha. */
static int32_t output_channels(png_structp png, png_infop info) {
    int color_type = png_get_color_type(png, info);
    int alpha = (color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
    return ((color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1) + (alpha ? 1 : 0);
}

/*
 * XMP part 3 puts a PNG's packet in an uncompressed iTXt chunk with this keyword and empty
 * language and translated keyword.
 */
static const char xmp_keyword[] = "XML:com.adobe.xmp";

/*
 * Ancillary chunks (text, ICC profiles) are small: libpng refuses a larger one, and drops a
 * compressed one that inflates past this.
 */
static const png_alloc_size_t chunk_byte_limit = (png_alloc_size_t)8 << 20;

/*
 * The first iTXt chunk keyed as XMP part 3 keys a PNG's packet (libpng inflates a compressed
 * one, which the part does not allow but some writers make).
 */
static void find_xmp(ccodecs_decoder *decoder) {
    png_textp texts = NULL;
    int count = png_get_text(decoder->png, decoder->png_info, &texts, NULL);
    for (int i = 0; i < count; i++) {
        int itxt = texts[i].compression == PNG_ITXT_COMPRESSION_NONE || texts[i].compression == PNG_ITXT_COMPRESSION_zTXt;
        if (itxt && strcmp(texts[i].key, xmp_keyword) == 0) {
            ccodecs_keep_xmp(decoder, (const uint8_t *)texts[i].text, texts[i].itxt_length);
            return;
        }
    }
}

/* iCCP, eXIf and XMP, as far as png_read_info has read (up to the image data); libpng owns the bytes. */
static void find_metadata(ccodecs_decoder *decoder) {
    png_charp name;
    int compression;
    png_bytep profile;
    png_uint_32 profile_length;
    if (png_get_iCCP(decoder->png, decoder->png_info, &name, &compression, &profile, &profile_length))
        ccodecs_keep_icc(decoder, profile, profile_length);
    png_bytep exif;
    png_uint_32 exif_length;
    if (png_get_eXIf_1(decoder->png, decoder->png_info, &exif_length, &exif))
        ccodecs_keep_exif(decoder, exif, exif_length);
    find_xmp(decoder);
}

ccodecs_status ccodecs_png_open(ccodecs_decoder *decoder, const char *name) {
    (void)name;
    ccodecs_status claimed = check_header_chunk(decoder);
    if (claimed != CCODECS_OK) return claimed;
    if (!ccodecs_open_file(decoder)) return CCODECS_ERROR_IO;
    decoder->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &decoder->jump, png_fail, png_ignore_warning,
                                            decoder, png_budget_malloc, png_budget_free);
    if (decoder->png != NULL) decoder->png_info = png_create_info_struct(decoder->png);
    if (decoder->png_info == NULL) {
        ccodecs_note(&decoder->jump, "out of memory");
        return CCODECS_ERROR_IO;
    }
    if (setjmp(decoder->jump.buffer)) return CCODECS_ERROR_CORRUPT;

    png_structp png = decoder->png;
    png_infop info = decoder->png_info;
    png_set_read_fn(png, decoder->file, png_read_file);
    /* Backstops to check_header_chunk: libpng refuses a dimension above the pixel limit. */
    png_uint_32 dimension_limit = decoder->max_pixels < PNG_UINT_31_MAX ? (png_uint_32)decoder->max_pixels
                                                                        : PNG_UINT_31_MAX;
    png_set_user_limits(png, dimension_limit, dimension_limit);
    png_set_chunk_malloc_max(png, chunk_byte_limit);
    png_read_info(png, info);
    find_metadata(decoder);
    ccodecs_status status = ccodecs_check_size(decoder, png_get_image_width(png, info), png_get_image_height(png, info));
    if (status != CCODECS_OK) return status;

    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
    decoder->png_passes = png_set_interlace_handling(png);
    decoder->info.channels = output_channels(png, info);
    decoder->info.bit_depth = bit_depth == 16 ? 16 : 8;
    /* Row buffers come next, sized by the image: from here the budget is the image's. */
    ccodecs_set_budget(decoder);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != decoder->info.channels || png_get_bit_depth(png, info) != decoder->info.bit_depth)
        png_error(png, "unexpected layout after expansion");
    return CCODECS_OK;
}

ccodecs_status ccodecs_png_read(ccodecs_decoder *decoder, float *samples) {
    png_structp png = decoder->png;
    size_t row_samples = (size_t)decoder->info.width * (size_t)decoder->info.channels;
    size_t row_bytes = row_samples * (size_t)(decoder->info.bit_depth / 8);
    if (setjmp(decoder->jump.buffer)) return CCODECS_ERROR_CORRUPT;
    if (png_get_rowbytes(png, decoder->png_info) != row_bytes) png_error(png, "unexpected row size");
    /*
     * Each row is decoded into the memory its floats will fill (the bytes fit: a sample is
     * at most 2 of a float's 4), and widened in place once every interlace pass has been
     * through it: no second copy of the image.
     */
    for (int pass = 0; pass < decoder->png_passes; pass++)
        for (int32_t y = 0; y < decoder->info.height; y++)
            png_read_row(png, (png_bytep)(samples + (size_t)y * row_samples), NULL);
    for (int32_t y = 0; y < decoder->info.height; y++) {
        float *row = samples + (size_t)y * row_samples;
        ccodecs_widen(row, row, row_samples, decoder->info.bit_depth);
    }
    return CCODECS_OK;
}

void ccodecs_png_close(ccodecs_decoder *decoder) {
    if (decoder->png != NULL) png_destroy_read_struct(&decoder->png, &decoder->png_info, NULL);
}

static char *copy_string(const char *text) {
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy != NULL) memcpy(copy, text, length + 1);
    return copy;
}

/* Copies libpng's text entries; returns 0 when out of memory (list left freeable). */
static int copy_texts(png_textp texts, int count, ccodecs_text_list *list) {
    list->entries = calloc((size_t)(count > 0 ? count : 1), sizeof(ccodecs_text));
    if (list->entries == NULL) return 0;
    for (int i = 0; i < count; i++) {
        ccodecs_text *entry = &list->entries[list->count++];
        const char *value = texts[i].text != NULL ? texts[i].text : "";
        entry->key = copy_string(texts[i].key);
        entry->value = copy_string(value);
        entry->value_length = strlen(value);
        entry->utf8 = texts[i].compression == PNG_ITXT_COMPRESSION_NONE ||
                      texts[i].compression == PNG_ITXT_COMPRESSION_zTXt;
        if (entry->key == NULL || entry->value == NULL) return 0;
    }
    return 1;
}

ccodecs_status ccodecs_png_read_text(int fd, uint64_t max_pixels, ccodecs_text_list *list, char *message,
                                     size_t capacity) {
    list->entries = NULL;
    list->count = 0;
    ccodecs_decoder *decoder = NULL;
    ccodecs_info info;
    ccodecs_status status = ccodecs_decoder_open(CCODECS_PNG, fd, "", max_pixels, &decoder, &info, message, capacity);
    if (status != CCODECS_OK) return status;

    /* Text may follow the image data, and libpng reaches it only by decoding the rows. */
    size_t row_bytes = png_get_rowbytes(decoder->png, decoder->png_info);
    decoder->scratch = malloc(row_bytes > 0 ? row_bytes : 1);
    if (decoder->scratch == NULL) {
        snprintf(message, capacity, "out of memory");
        ccodecs_decoder_close(decoder);
        return CCODECS_ERROR_IO;
    }
    if (setjmp(decoder->jump.buffer)) {
        ccodecs_copy_message(&decoder->jump, "cannot decode", message, capacity);
        ccodecs_decoder_close(decoder);
        return CCODECS_ERROR_CORRUPT;
    }
    for (int pass = 0; pass < decoder->png_passes; pass++)
        for (int32_t y = 0; y < info.height; y++) png_read_row(decoder->png, decoder->scratch, NULL);
    png_read_end(decoder->png, decoder->png_info);

    png_textp texts = NULL;
    int count = png_get_text(decoder->png, decoder->png_info, &texts, NULL);
    int copied = copy_texts(texts, count, list);
    ccodecs_decoder_close(decoder);
    if (!copied) {
        ccodecs_text_list_free(list);
        snprintf(message, capacity, "out of memory");
        return CCODECS_ERROR_IO;
    }
    return CCODECS_OK;
}

void ccodecs_text_list_free(ccodecs_text_list *list) {
    if (list->entries != NULL) {
        for (int32_t i = 0; i < list->count; i++) {
            free((void *)list->entries[i].key);
            free((void *)list->entries[i].value);
        }
        free(list->entries);
    }
    list->entries = NULL;
    list->count = 0;
}

static int png_color_type(int32_t channels) {
    switch (channels) {
    case 1: return PNG_COLOR_TYPE_GRAY;
    case 2: return PNG_COLOR_TYPE_GRAY_ALPHA;
    case 3: return PNG_COLOR_TYPE_RGB;
    default: return PNG_COLOR_TYPE_RGB_ALPHA;
    }
}

/*
 * After png_set_IHDR: libpng checks the profile against the colour type. Its check against
 * the known sRGB profiles would fail the write for one it knows to be flawed (the old
 * HP / Microsoft sRGB, common in photos); a carried profile goes out as it came in.
 */
static void set_metadata(png_structp png, png_infop info, const ccodecs_metadata *metadata) {
    png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
    if (metadata->icc_length > 0)
        png_set_iCCP(png, info, "ICC Profile", PNG_COMPRESSION_TYPE_BASE, metadata->icc,
                     (png_uint_32)metadata->icc_length);
    if (metadata->exif_length > 0)
        png_set_eXIf_1(png, info, (png_uint_32)metadata->exif_length, (png_bytep)metadata->exif);
}

/*
 * libpng measures iTXt text with strlen, so the packet goes as a NUL-terminated copy; a packet
 * holding a NUL could not be written whole, and is refused.
 */

static int xmp_fits(const ccodecs_metadata *metadata, char *message, size_t capacity) {
    if (metadata == NULL || metadata->xmp_length == 0) return 1;
    if (metadata->xmp_length > PNG_UINT_31_MAX - sizeof xmp_keyword - 4) {
        snprintf(message, capacity, "XMP of %zu bytes does not fit in a PNG chunk", metadata->xmp_length);
        return 0;
    }
    if (memchr(metadata->xmp, 0, metadata->xmp_length) != NULL) {
        snprintf(message, capacity, "XMP holding a NUL byte cannot go in a PNG iTXt chunk");
        return 0;
    }
    return 1;
}

/* A NUL-terminated copy of the XMP packet, or NULL when there is none or no memory. */
static char *terminated_xmp(const ccodecs_metadata *metadata) {
    if (metadata == NULL || metadata->xmp_length == 0) return NULL;
    char *copy = malloc(metadata->xmp_length + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, metadata->xmp, metadata->xmp_length);
    copy[metadata->xmp_length] = 0;
    return copy;
}

ccodecs_status ccodecs_png_write(const char *path, const void *pixels, int32_t width,
                                 int32_t height, int32_t channels, int32_t bit_depth,
                                 const ccodecs_text *texts, int32_t text_count,
                                 const ccodecs_metadata *metadata, char *message, size_t capacity) {
    ccodecs_jump jump;
    memset(&jump, 0, sizeof jump);
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4 || (bit_depth != 8 && bit_depth != 16)) {
        snprintf(message, capacity, "invalid image layout");
        return CCODECS_ERROR_WRITE;
    }
    if (metadata != NULL && (metadata->exif_length > PNG_UINT_31_MAX || metadata->icc_length > PNG_UINT_31_MAX)) {
        snprintf(message, capacity, "metadata does not fit in a PNG chunk");
        return CCODECS_ERROR_WRITE;
    }
    if (!xmp_fits(metadata, message, capacity)) return CCODECS_ERROR_WRITE;
    int has_xmp = metadata != NULL && metadata->xmp_length > 0;
    char *xmp = terminated_xmp(metadata);
    png_textp entries = calloc((size_t)text_count + 1, sizeof(png_text));
    int allocated = entries != NULL && (xmp != NULL || !has_xmp);
    FILE *file = allocated ? fopen(path, "wb") : NULL;
    if (file == NULL) {
        snprintf(message, capacity, "%s", allocated ? strerror(errno) : "out of memory");
        free(entries);
        free(xmp);
        return CCODECS_ERROR_IO;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &jump, png_fail, png_ignore_warning);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (setjmp(jump.buffer) || info == NULL) {
        ccodecs_copy_message(&jump, "out of memory", message, capacity);
        png_destroy_write_struct(&png, &info);
        fclose(file);
        free(entries);
        free(xmp);
        return CCODECS_ERROR_WRITE;
    }

    for (int32_t i = 0; i < text_count; i++) {
        entries[i].key = (png_charp)texts[i].key;
        if (texts[i].utf8) {
            entries[i].compression = PNG_ITXT_COMPRESSION_NONE;
            entries[i].itxt_length = texts[i].value_length;
        } else {
            entries[i].compression = PNG_TEXT_COMPRESSION_NONE;
            entries[i].text_length = texts[i].value_length;
        }
        entries[i].text = (png_charp)texts[i].value;
    }
    if (has_xmp) {
        entries[text_count].key = (png_charp)xmp_keyword;
        entries[text_count].compression = PNG_ITXT_COMPRESSION_NONE;
        entries[text_count].text = xmp;
        entries[text_count].itxt_length = metadata->xmp_length;
    }
    int32_t entry_count = text_count + (has_xmp ? 1 : 0);
    png_set_write_fn(png, file, png_write_file, png_flush_file);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, png_color_type(channels),
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (entry_count > 0) png_set_text(png, info, entries, entry_count);
    if (metadata != NULL) set_metadata(png, info, metadata);
    png_write_info(png, info);
    if (bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
    size_t row_bytes = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    for (int32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)pixels + (size_t)y * row_bytes);
    png_write_end(png, info);

    png_destroy_write_struct(&png, &info);
    free(entries);
    free(xmp);
    if (fclose(file) != 0) {
        snprintf(message, capacity, "%s", strerror(errno));
        return CCODECS_ERROR_WRITE;
    }
    return CCODECS_OK;
}
