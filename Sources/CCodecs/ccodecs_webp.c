#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include "ccodecs_internal.h"

/* Enough for every WebP header WebPGetFeatures reads (RIFF, VP8X, then VP8 or VP8L). */
enum { header_bytes = 64 };

static const char *vp8_reason(VP8StatusCode status) {
    switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data";
    default: return "unknown error";
    }
}

static int read_fully(int fd, uint8_t *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t count = pread(fd, buffer + done, length - done, (off_t)done);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return 0;
        done += (size_t)count;
    }
    return 1;
}

static uint32_t little_endian_32(const uint8_t *bytes) {
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

/*
 * The first EXIF, ICCP and XMP chunks of an extended (VP8X) file, where the container format puts
 * metadata; the bytes stay in the file's buffer. The chunks are walked here rather than by
 * libwebpdemux, which allocates a record for every chunk: a file of tiny chunks would make
 * it claim several times the file's size, outside the decoder's budget.
 */
static void find_metadata(ccodecs_decoder *decoder) {
    const uint8_t *file = decoder->scratch;
    size_t size = decoder->webp_size, offset = 12;
    if (size < 20 || memcmp(file + 12, "VP8X", 4) != 0) return;
    int found_exif = 0, found_icc = 0, found_xmp = 0;
    while (size - offset >= 8 && !(found_exif && found_icc && found_xmp)) {
        const uint8_t *chunk = file + offset;
        size_t length = little_endian_32(chunk + 4);
        if (length > size - offset - 8) return; /* truncated: libwebp judges the pixels */
        if (!found_exif && memcmp(chunk, "EXIF", 4) == 0) {
            ccodecs_keep_exif(decoder, chunk + 8, length);
            found_exif = 1;
        } else if (!found_icc && memcmp(chunk, "ICCP", 4) == 0) {
            ccodecs_keep_icc(decoder, chunk + 8, length);
            found_icc = 1;
        } else if (!found_xmp && memcmp(chunk, "XMP ", 4) == 0) {
            ccodecs_keep_xmp(decoder, chunk + 8, length);
            found_xmp = 1;
        }
        offset += 8 + length + (length & 1);
        if (offset > size) return;
    }
}

ccodecs_status ccodecs_webp_open(ccodecs_decoder *decoder, const char *name) {
    (void)name;
    uint64_t length;
    ccodecs_status sized = ccodecs_file_size(decoder, &length);
    if (sized != CCODECS_OK) return sized;
    size_t file_size = (size_t)length;
    uint8_t header[header_bytes];
    size_t head = file_size < sizeof header ? file_size : sizeof header;
    if (!read_fully(decoder->fd, header, head)) {
        ccodecs_note(&decoder->jump, "%s", errno ? strerror(errno) : "short read");
        return CCODECS_ERROR_IO;
    }
    WebPBitstreamFeatures features;
    VP8StatusCode code = WebPGetFeatures(header, head, &features);
    if (code != VP8_STATUS_OK) {
        ccodecs_note(&decoder->jump, "%s", vp8_reason(code));
        return CCODECS_ERROR_CORRUPT;
    }
    ccodecs_status size = ccodecs_check_size(decoder, (uint64_t)features.width, (uint64_t)features.height);
    if (size != CCODECS_OK) return size;
    if (features.has_animation) {
        ccodecs_note(&decoder->jump, "animated WebP images are not supported");
        return CCODECS_ERROR_UNSUPPORTED;
    }
    decoder->info.channels = features.has_alpha ? 4 : 3;
    decoder->info.bit_depth = 8;
    ccodecs_set_budget(decoder);
    /* The whole file is held while it decodes; a file larger than the budget is not an image of this size. */
    if (!ccodecs_take_memory(decoder, file_size)) return CCODECS_ERROR_CORRUPT;
    decoder->scratch = malloc(file_size);
    if (decoder->scratch == NULL) {
        ccodecs_note(&decoder->jump, "out of memory");
        return CCODECS_ERROR_IO;
    }
    if (!read_fully(decoder->fd, decoder->scratch, file_size)) {
        ccodecs_note(&decoder->jump, "%s", errno ? strerror(errno) : "short read");
        return CCODECS_ERROR_IO;
    }
    decoder->webp_size = file_size;
    find_metadata(decoder);
    return CCODECS_OK;
}

ccodecs_status ccodecs_webp_read(ccodecs_decoder *decoder, float *samples) {
    size_t count = (size_t)decoder->info.width * (size_t)decoder->info.height * (size_t)decoder->info.channels;
    int stride = decoder->info.width * decoder->info.channels;
    /* Bytes land at the start of the float buffer, then widen in place from the last. */
    uint8_t *bytes = (uint8_t *)samples;
    uint8_t *decoded = decoder->info.channels == 4
        ? WebPDecodeRGBAInto(decoder->scratch, decoder->webp_size, bytes, count, stride)
        : WebPDecodeRGBInto(decoder->scratch, decoder->webp_size, bytes, count, stride);
    if (decoded == NULL) {
        ccodecs_note(&decoder->jump, "the VP8/VP8L data does not decode");
        return CCODECS_ERROR_CORRUPT;
    }
    ccodecs_widen(samples, bytes, count, 8);
    return CCODECS_OK;
}

/* Adds `fourcc` to `mux` when there are bytes for it; 0 on failure. */
static int set_chunk(WebPMux *mux, const char *fourcc, const uint8_t *bytes, size_t length) {
    if (bytes == NULL || length == 0) return 1;
    WebPData data = {bytes, length};
    return WebPMuxSetChunk(mux, fourcc, &data, 0) == WEBP_MUX_OK;
}

/* The encoded bitstream with EXIF and XMP chunks in a VP8X container; the caller frees it. */
static int assemble(const uint8_t *bitstream, size_t size, const ccodecs_metadata *metadata, WebPData *output) {
    WebPMux *mux = WebPMuxNew();
    if (mux == NULL) return 0;
    WebPData image = {bitstream, size};
    int ok = WebPMuxSetImage(mux, &image, 0) == WEBP_MUX_OK &&
             set_chunk(mux, "ICCP", metadata->icc, metadata->icc_length) &&
             set_chunk(mux, "EXIF", metadata->exif, metadata->exif_length) &&
             set_chunk(mux, "XMP ", metadata->xmp, metadata->xmp_length) &&
             WebPMuxAssemble(mux, output) == WEBP_MUX_OK;
    WebPMuxDelete(mux);
    return ok;
}

/*
 * The simple lossless API zeroes the colour of fully transparent pixels; `exact` keeps
 * them, so that what is written reads back sample for sample.
 */
static size_t encode_lossless(const uint8_t *pixels, int32_t width, int32_t height, int32_t channels,
                              uint8_t **bitstream) {
    WebPConfig config;
    WebPPicture picture;
    if (!WebPConfigInit(&config) || !WebPPictureInit(&picture)) return 0;
    config.lossless = 1;
    config.exact = 1;
    picture.use_argb = 1;
    picture.width = width;
    picture.height = height;
    int imported = channels == 4 ? WebPPictureImportRGBA(&picture, pixels, width * channels)
                                 : WebPPictureImportRGB(&picture, pixels, width * channels);
    WebPMemoryWriter writer;
    WebPMemoryWriterInit(&writer);
    picture.writer = WebPMemoryWrite;
    picture.custom_ptr = &writer;
    int ok = imported && WebPEncode(&config, &picture);
    WebPPictureFree(&picture);
    if (!ok) {
        WebPMemoryWriterClear(&writer);
        return 0;
    }
    *bitstream = writer.mem;
    return writer.size;
}

ccodecs_status ccodecs_webp_write(const char *path, const uint8_t *pixels, int32_t width, int32_t height,
                                  int32_t channels, int32_t quality, int32_t lossless,
                                  const ccodecs_metadata *metadata, char *message, size_t capacity) {
    if (width <= 0 || height <= 0 || width > WEBP_MAX_DIMENSION || height > WEBP_MAX_DIMENSION ||
        (channels != 3 && channels != 4)) {
        snprintf(message, capacity, "WebP holds 3 or 4 channels of at most %dx%d pixels, not %d of %dx%d",
                 WEBP_MAX_DIMENSION, WEBP_MAX_DIMENSION, channels, width, height);
        return CCODECS_ERROR_WRITE;
    }
    uint8_t *bitstream = NULL;
    int stride = width * channels;
    float level = (float)(quality < 1 ? 1 : (quality > 100 ? 100 : quality));
    size_t size;
    if (lossless)
        size = encode_lossless(pixels, width, height, channels, &bitstream);
    else
        size = channels == 4 ? WebPEncodeRGBA(pixels, width, height, stride, level, &bitstream)
                             : WebPEncodeRGB(pixels, width, height, stride, level, &bitstream);
    if (size == 0) {
        WebPFree(bitstream);
        snprintf(message, capacity, "libwebp could not encode the image");
        return CCODECS_ERROR_WRITE;
    }
    WebPData assembled = {NULL, 0};
    int has_metadata = metadata != NULL && (metadata->exif_length || metadata->xmp_length || metadata->icc_length);
    if (has_metadata && !assemble(bitstream, size, metadata, &assembled)) {
        WebPFree(bitstream);
        snprintf(message, capacity, "libwebpmux could not add the metadata chunks");
        return CCODECS_ERROR_WRITE;
    }
    const uint8_t *bytes = has_metadata ? assembled.bytes : bitstream;
    size_t length = has_metadata ? assembled.size : size;
    ccodecs_status status = CCODECS_OK;
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        snprintf(message, capacity, "%s", strerror(errno));
        status = CCODECS_ERROR_IO;
    } else {
        int written = fwrite(bytes, 1, length, file) == length;
        if (fclose(file) != 0 || !written) {
            snprintf(message, capacity, "%s", strerror(errno));
            status = CCODECS_ERROR_WRITE;
        }
    }
    WebPDataClear(&assembled);
    WebPFree(bitstream);
    return status;
}
