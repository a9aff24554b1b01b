#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccodecs_internal.h"

/*
 * HEIC and AVIF through libheif, which reads both from the same ISO-BMFF container and hands
 * the coded image to libde265 (HEVC) or dav1d / libaom (AV1). libheif has no allocator hooks,
 * so its memory is bounded by what it is allowed to decode instead: the image's size is
 * checked before a pixel is decoded, and libheif's own per-side limit is tightened to it.
 */

/* libheif's default per-side limit (MAX_IMAGE_WIDTH in its heif_limits.h), never loosened here. */
enum { libheif_side_limit = 32768 };

/*
 * The file is read through the decoder's descriptor, on demand: libheif asks for boxes and
 * items, not the whole file. It serialises its reads (even when it decodes a grid's tiles on
 * several threads), so the position needs no lock.
 */
static int64_t reader_position(void *userdata) { return ((ccodecs_decoder *)userdata)->heif_position; }

static int reader_read(void *data, size_t size, void *userdata) {
    ccodecs_decoder *decoder = userdata;
    if (size > (uint64_t)(decoder->heif_file_size - decoder->heif_position)) return 1;
    size_t done = 0;
    while (done < size) {
        ssize_t count = pread(decoder->fd, (uint8_t *)data + done, size - done, (off_t)decoder->heif_position);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return 1;
        done += (size_t)count;
        decoder->heif_position += count;
    }
    return 0;
}

static int reader_seek(int64_t position, void *userdata) {
    ccodecs_decoder *decoder = userdata;
    if (position < 0 || position > decoder->heif_file_size) return 1;
    decoder->heif_position = position;
    return 0;
}

/* A regular file never grows while it is read: what lies past its end is missing, not late. */
static enum heif_reader_grow_status reader_wait(int64_t target_size, void *userdata) {
    ccodecs_decoder *decoder = userdata;
    return target_size <= decoder->heif_file_size ? heif_reader_grow_status_size_reached
                                                  : heif_reader_grow_status_size_beyond_eof;
}

static const struct heif_reader file_reader = {
    .reader_api_version = 1,
    .get_position = reader_position,
    .read = reader_read,
    .seek = reader_seek,
    .wait_for_file_size = reader_wait,
};

/* libheif's messages end some lines with a newline; the note is one line. */
static void note_error(ccodecs_decoder *decoder, struct heif_error error) {
    ccodecs_note(&decoder->jump, "%s", error.message);
    char *end = decoder->jump.message + strlen(decoder->jump.message);
    while (end > decoder->jump.message && (end[-1] == '\n' || end[-1] == ' ')) *--end = '\0';
}

/*
 * libheif refuses an image over its per-side limit while it reads the file, before there is
 * a handle to ask the size of; its message ("Image size 40000x40000 exceeds ...") holds the
 * claimed size, which the caller's message reports as the other decoders' headers do.
 */
static ccodecs_status refuse_over_side_limit(ccodecs_decoder *decoder, struct heif_error error) {
    unsigned int width = 0, height = 0;
    const char *size = strstr(error.message, "Image size ");
    if (size != NULL && sscanf(size, "Image size %ux%u", &width, &height) == 2) {
        decoder->info.width = (int32_t)(width > INT32_MAX ? INT32_MAX : width);
        decoder->info.height = (int32_t)(height > INT32_MAX ? INT32_MAX : height);
        return CCODECS_ERROR_TOO_LARGE;
    }
    note_error(decoder, error);
    return CCODECS_ERROR_UNSUPPORTED;
}

static ccodecs_status refusal(ccodecs_decoder *decoder, struct heif_error error) {
    if (error.subcode == heif_suberror_Security_limit_exceeded) return refuse_over_side_limit(decoder, error);
    note_error(decoder, error);
    switch (error.code) {
    case heif_error_Unsupported_filetype:
    case heif_error_Unsupported_feature: return CCODECS_ERROR_UNSUPPORTED;
    default: return CCODECS_ERROR_CORRUPT;
    }
}

static uint32_t big_endian_32(const uint8_t *bytes) {
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

/*
 * The first Exif item of the primary image. It starts with a 4-byte big-endian offset from
 * the end of that field to the TIFF header (ISO/IEC 23008-12 A.2.1): 0, or 6 past the
 * "Exif\0\0" that Apple writes, which ccodecs_keep_exif would skip anyway.
 */
static void find_exif(ccodecs_decoder *decoder) {
    heif_item_id id;
    if (heif_image_handle_get_list_of_metadata_block_IDs(decoder->heif_handle, "Exif", &id, 1) != 1) return;
    size_t size = heif_image_handle_get_metadata_size(decoder->heif_handle, id);
    if (size <= 4 || size - 4 > CCODECS_METADATA_LIMIT + 6) return;
    decoder->heif_exif = malloc(size);
    if (decoder->heif_exif == NULL) return;
    struct heif_error error = heif_image_handle_get_metadata(decoder->heif_handle, id, decoder->heif_exif);
    uint32_t offset = big_endian_32(decoder->heif_exif);
    if (error.code != heif_error_Ok || offset > size - 4) return;
    ccodecs_keep_exif(decoder, decoder->heif_exif + 4 + offset, size - 4 - offset);
}

/* The primary image's first metadata item holding XMP: of type mime and content type application/rdf+xml. */
static void find_xmp(ccodecs_decoder *decoder) {
    heif_item_id ids[16];
    int count = heif_image_handle_get_list_of_metadata_block_IDs(decoder->heif_handle, "mime", ids, 16);
    for (int i = 0; i < count; i++) {
        const char *type = heif_image_handle_get_metadata_content_type(decoder->heif_handle, ids[i]);
        if (type == NULL || strcmp(type, "application/rdf+xml") != 0) continue;
        size_t size = heif_image_handle_get_metadata_size(decoder->heif_handle, ids[i]);
        if (size == 0 || size > CCODECS_XMP_LIMIT) return;
        decoder->heif_xmp = malloc(size);
        if (decoder->heif_xmp == NULL) return;
        struct heif_error error = heif_image_handle_get_metadata(decoder->heif_handle, ids[i], decoder->heif_xmp);
        if (error.code == heif_error_Ok) ccodecs_keep_xmp(decoder, decoder->heif_xmp, size);
        return;
    }
}

/* An ICC colr box ('prof', or 'rICC' restricted); an nclx box is a few code points, not a profile. */
static void find_icc(ccodecs_decoder *decoder) {
    enum heif_color_profile_type type = heif_image_handle_get_color_profile_type(decoder->heif_handle);
    if (type != heif_color_profile_type_prof && type != heif_color_profile_type_rICC) return;
    size_t size = heif_image_handle_get_raw_color_profile_size(decoder->heif_handle);
    if (size == 0 || size > CCODECS_METADATA_LIMIT) return;
    decoder->heif_icc = malloc(size);
    if (decoder->heif_icc == NULL) return;
    struct heif_error error = heif_image_handle_get_raw_color_profile(decoder->heif_handle, decoder->heif_icc);
    if (error.code == heif_error_Ok) ccodecs_keep_icc(decoder, decoder->heif_icc, size);
}

ccodecs_status ccodecs_heif_open(ccodecs_decoder *decoder, const char *name) {
    (void)name;
    uint64_t file_size;
    ccodecs_status sized = ccodecs_file_size(decoder, &file_size);
    if (sized != CCODECS_OK) return sized;
    decoder->heif_file_size = (int64_t)file_size;
    /*
     * heif_init is not called: libheif registers its built-in decoders when it loads, and
     * heif_init would also load plugins from the directory LIBHEIF_PLUGIN_PATH names.
     */
    decoder->heif = heif_context_alloc();
    if (decoder->heif == NULL) {
        ccodecs_note(&decoder->jump, "out of memory");
        return CCODECS_ERROR_IO;
    }
    uint64_t side_limit = decoder->max_pixels < libheif_side_limit ? decoder->max_pixels : libheif_side_limit;
    heif_context_set_maximum_image_size_limit(decoder->heif, (int)side_limit);
    struct heif_error error = heif_context_read_from_reader(decoder->heif, &file_reader, decoder, NULL);
    if (error.code != heif_error_Ok) return refusal(decoder, error);
    error = heif_context_get_primary_image_handle(decoder->heif, &decoder->heif_handle);
    if (error.code != heif_error_Ok) return refusal(decoder, error);

    /* The size after the irot / clap transforms, which decoding applies: the pixels delivered. */
    int width = heif_image_handle_get_width(decoder->heif_handle);
    int height = heif_image_handle_get_height(decoder->heif_handle);
    ccodecs_status size = ccodecs_check_size(decoder, width > 0 ? (uint64_t)width : 0, height > 0 ? (uint64_t)height : 0);
    if (size != CCODECS_OK) return size;
    /*
     * libheif 1.15 cannot say whether an image is coded monochrome before decoding it
     * (heif_image_handle_get_preferred_decoding_colorspace came in 1.17), so gray images
     * are delivered as RGB: the layout must be known before the pixels are.
     */
    decoder->info.channels = heif_image_handle_has_alpha_channel(decoder->heif_handle) ? 4 : 3;
    decoder->info.bit_depth = heif_image_handle_get_luma_bits_per_pixel(decoder->heif_handle) > 8 ? 16 : 8;
    find_exif(decoder);
    find_icc(decoder);
    find_xmp(decoder);
    return CCODECS_OK;
}

/* Interleaved rows of 8-bit samples, or of 16-bit little-endian ones holding `bits` bits. */
static void widen_rows(const ccodecs_info *info, float *samples, const uint8_t *plane, int stride, int bits) {
    size_t row_samples = (size_t)info->width * (size_t)info->channels;
    float scale = 1.0f / (float)((1u << bits) - 1);
    for (int32_t y = 0; y < info->height; y++) {
        const uint8_t *row = plane + (size_t)y * (size_t)stride;
        float *out = samples + (size_t)y * row_samples;
        if (bits > 8)
            for (size_t i = 0; i < row_samples; i++) out[i] = (float)(row[2 * i] | row[2 * i + 1] << 8) * scale;
        else
            for (size_t i = 0; i < row_samples; i++) out[i] = (float)row[i] * scale;
    }
}

static enum heif_chroma interleaved_chroma(const ccodecs_info *info) {
    int alpha = info->channels == 4;
    if (info->bit_depth == 16) return alpha ? heif_chroma_interleaved_RRGGBBAA_LE : heif_chroma_interleaved_RRGGBB_LE;
    return alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB;
}

ccodecs_status ccodecs_heif_read(ccodecs_decoder *decoder, float *samples) {
    const ccodecs_info *info = &decoder->info;
    struct heif_image *image = NULL;
    /* Default options: libheif applies irot / imir / clap, so the pixels come out upright. */
    struct heif_error error =
        heif_decode_image(decoder->heif_handle, &image, heif_colorspace_RGB, interleaved_chroma(info), NULL);
    if (error.code != heif_error_Ok) return refusal(decoder, error);

    ccodecs_status status = CCODECS_OK;
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(image, heif_channel_interleaved, &stride);
    int width = heif_image_get_width(image, heif_channel_interleaved);
    int height = heif_image_get_height(image, heif_channel_interleaved);
    int bits = heif_image_get_bits_per_pixel_range(image, heif_channel_interleaved);
    int depth_matches = info->bit_depth == 16 ? bits > 8 && bits <= 16 : bits == 8;
    /* The coded stream, not the container, decides what libheif delivers; the buffer fits the container's size. */
    if (plane == NULL || width != info->width || height != info->height || !depth_matches) {
        ccodecs_note(&decoder->jump, "decoded %dx%d %d-bit pixels, not the %dx%d the container declares", width,
                     height, bits, info->width, info->height);
        status = CCODECS_ERROR_CORRUPT;
    } else {
        widen_rows(info, samples, plane, stride, bits);
    }
    heif_image_release(image);
    return status;
}

void ccodecs_heif_close(ccodecs_decoder *decoder) {
    heif_image_handle_release(decoder->heif_handle);
    heif_context_free(decoder->heif);
    free(decoder->heif_exif);
    free(decoder->heif_icc);
    free(decoder->heif_xmp);
}
