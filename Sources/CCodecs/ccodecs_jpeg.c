#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ccodecs_internal.h"

static ccodecs_decoder *decoder_of(j_common_ptr info);

static void jpeg_fail(j_common_ptr info) {
    ccodecs_jpeg_errors *errors = (ccodecs_jpeg_errors *)info->err;
    /* libjpeg would spill past max_memory_to_use to a backing store, which it has not. */
    int over_budget = info->err->msg_code == JERR_NO_BACKING_STORE || info->err->msg_code == JERR_OUT_OF_MEMORY;
    if (info->is_decompressor && over_budget) ccodecs_note_budget(decoder_of(info));
    char reason[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, reason);
    ccodecs_note(errors->jump, "%s", reason);
    longjmp(errors->jump->buffer, 1);
}

/*
 * libjpeg answers a truncated file with a warning and grey pixels; that is an error here.
 * Other warnings (extraneous bytes before a marker...) leave a usable image.
 */
static void jpeg_filter_warning(j_common_ptr info, int level) {
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(info);
}

static void jpeg_silence(j_common_ptr info) { (void)info; }

static void install_errors(ccodecs_jpeg_errors *errors, ccodecs_jump *jump) {
    jpeg_std_error(&errors->manager);
    errors->manager.error_exit = jpeg_fail;
    errors->manager.emit_message = jpeg_filter_warning;
    errors->manager.output_message = jpeg_silence;
    errors->jump = jump;
}

/* The decoder around a decompressor (every decompressor here lives in one). */
static ccodecs_decoder *decoder_of(j_common_ptr info) {
    return (ccodecs_decoder *)((char *)info - offsetof(ccodecs_decoder, jpeg));
}

/*
 * Each progressive scan walks the whole coefficient buffer, so a small file of thousands
 * of scans would take minutes; libjpeg-turbo's own tools stop at this many.
 */
enum { max_scans = 500 };

static void limit_scans(j_common_ptr info) {
    j_decompress_ptr jpeg = (j_decompress_ptr)info;
    if (jpeg->input_scan_number <= max_scans) return;
    ccodecs_jump *jump = &decoder_of(info)->jump;
    ccodecs_note(jump, "JPEG with more than %d scans", max_scans);
    longjmp(jump->buffer, 1);
}

static void find_exif(ccodecs_decoder *decoder) {
    static const uint8_t signature[6] = {'E', 'x', 'i', 'f', 0, 0};
    for (jpeg_saved_marker_ptr marker = decoder->jpeg.marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1 && marker->data_length > sizeof signature &&
            memcmp(marker->data, signature, sizeof signature) == 0) {
            ccodecs_keep_exif(decoder, marker->data, marker->data_length);
            return;
        }
    }
}

/* The first APP1 segment with XMP part 3's signature; an extended XMP's further segments are not joined. */
static void find_xmp(ccodecs_decoder *decoder) {
    static const uint8_t signature[] = "http://ns.adobe.com/xap/1.0/"; /* with its NUL */
    for (jpeg_saved_marker_ptr marker = decoder->jpeg.marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1 && marker->data_length > sizeof signature &&
            memcmp(marker->data, signature, sizeof signature) == 0) {
            ccodecs_keep_xmp(decoder, marker->data + sizeof signature, marker->data_length - sizeof signature);
            return;
        }
    }
}

/* libjpeg-turbo joins the APP2 segments in their sequence order; a bogus set is a warning and no profile. */
static void find_icc(ccodecs_decoder *decoder) {
    JOCTET *profile = NULL;
    unsigned int length = 0;
    if (!jpeg_read_icc_profile(&decoder->jpeg, &profile, &length)) return;
    decoder->jpeg_icc = profile;
    ccodecs_keep_icc(decoder, profile, length);
}

ccodecs_status ccodecs_jpeg_open(ccodecs_decoder *decoder, const char *name) {
    (void)name;
    if (!ccodecs_open_file(decoder)) return CCODECS_ERROR_IO;
    struct jpeg_decompress_struct *jpeg = &decoder->jpeg;
    jpeg->err = &decoder->jpeg_errors.manager;
    install_errors(&decoder->jpeg_errors, &decoder->jump);
    if (setjmp(decoder->jump.buffer)) return CCODECS_ERROR_CORRUPT;

    jpeg_create_decompress(jpeg);
    decoder->jpeg_created = 1;
    /*
     * libjpeg holds what a multi-scan image needs (a progressive file's coefficients) in
     * memory up to this much, and fails rather than spill past it.
     */
    jpeg->mem->max_memory_to_use = (long)decoder->memory_limit;
    decoder->jpeg_progress.progress_monitor = limit_scans;
    jpeg->progress = &decoder->jpeg_progress;
    jpeg_stdio_src(jpeg, decoder->file);
    jpeg_save_markers(jpeg, JPEG_APP0 + 1, 0xFFFF);
    jpeg_save_markers(jpeg, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(jpeg, TRUE);
    ccodecs_status status = ccodecs_check_size(decoder, jpeg->image_width, jpeg->image_height);
    if (status != CCODECS_OK) return status;

    switch (jpeg->jpeg_color_space) {
    case JCS_GRAYSCALE:
        jpeg->out_color_space = JCS_GRAYSCALE;
        decoder->info.channels = 1;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        ccodecs_note(&decoder->jump, "CMYK JPEG images are not supported (convert to RGB first)");
        return CCODECS_ERROR_UNSUPPORTED;
    case JCS_UNKNOWN:
        ccodecs_note(&decoder->jump, "JPEG with %d components of unknown colour space is not supported",
                     jpeg->num_components);
        return CCODECS_ERROR_UNSUPPORTED;
    default:
        jpeg->out_color_space = JCS_RGB;
        decoder->info.channels = 3;
    }
    decoder->info.bit_depth = 8;
    ccodecs_set_budget(decoder);
    jpeg->mem->max_memory_to_use = (long)decoder->memory_limit;
    find_exif(decoder);
    find_xmp(decoder);
    find_icc(decoder);
    return CCODECS_OK;
}

ccodecs_status ccodecs_jpeg_read(ccodecs_decoder *decoder, float *samples, int32_t orientation) {
    struct jpeg_decompress_struct *jpeg = &decoder->jpeg;
    size_t row_bytes = (size_t)decoder->info.width * (size_t)decoder->info.channels;
    /* one row widened to floats, then the same row as libjpeg writes it; freed by close, so a
       longjmp out of libjpeg leaks nothing */
    decoder->scratch = malloc(row_bytes * (sizeof(float) + 1));
    if (decoder->scratch == NULL) {
        ccodecs_note(&decoder->jump, "out of memory");
        return CCODECS_ERROR_IO;
    }
    if (setjmp(decoder->jump.buffer)) return CCODECS_ERROR_CORRUPT;
    jpeg_start_decompress(jpeg);
    if ((int32_t)jpeg->output_components != decoder->info.channels ||
        (int32_t)jpeg->output_width != decoder->info.width ||
        (int32_t)jpeg->output_height != decoder->info.height) {
        ccodecs_note(&decoder->jump, "unexpected output layout");
        return CCODECS_ERROR_CORRUPT;
    }
    float *widened = (float *)decoder->scratch;
    JSAMPROW row = (JSAMPROW)(widened + row_bytes);
    while (jpeg->output_scanline < jpeg->output_height) {
        ptrdiff_t y = jpeg->output_scanline;
        if (jpeg_read_scanlines(jpeg, &row, 1) != 1) {
            ccodecs_note(&decoder->jump, "no scanline %td", y);
            return CCODECS_ERROR_CORRUPT;
        }
        for (size_t i = 0; i < row_bytes; i++) widened[i] = (float)row[i] / 255.0f;
        ccodecs_store_oriented_row(&decoder->info, samples, orientation, y, widened);
    }
    return CCODECS_OK;
}

void ccodecs_jpeg_close(ccodecs_decoder *decoder) {
    if (decoder->jpeg_created) jpeg_destroy_decompress(&decoder->jpeg);
    free(decoder->jpeg_icc);
}

static const char exif_signature[6] = {'E', 'x', 'i', 'f', 0, 0};
static const char xmp_signature[] = "http://ns.adobe.com/xap/1.0/"; /* written with its NUL */

/* A marker holds at most 65533 bytes after its length field. */
static int metadata_fits(const ccodecs_metadata *metadata, char *message, size_t capacity) {
    if (metadata->exif_length > 65533 - sizeof exif_signature) {
        snprintf(message, capacity, "EXIF of %zu bytes does not fit in a JPEG APP1 segment", metadata->exif_length);
        return 0;
    }
    if (metadata->xmp_length > CCODECS_JPEG_XMP_CAPACITY) {
        snprintf(message, capacity, "XMP of %zu bytes does not fit in a JPEG APP1 segment", metadata->xmp_length);
        return 0;
    }
    return 1;
}

static void write_segment(struct jpeg_compress_struct *jpeg, const char *signature, size_t signature_length,
                          const uint8_t *bytes, size_t length) {
    jpeg_write_m_header(jpeg, JPEG_APP0 + 1, (unsigned int)(signature_length + length));
    for (size_t i = 0; i < signature_length; i++) jpeg_write_m_byte(jpeg, (uint8_t)signature[i]);
    for (size_t i = 0; i < length; i++) jpeg_write_m_byte(jpeg, bytes[i]);
}

/* Exif first: readers expect it as the first APP1 segment after SOI/JFIF. */
static void write_metadata(struct jpeg_compress_struct *jpeg, const ccodecs_metadata *metadata) {
    if (metadata->exif_length > 0)
        write_segment(jpeg, exif_signature, sizeof exif_signature, metadata->exif, metadata->exif_length);
    if (metadata->xmp_length > 0)
        write_segment(jpeg, xmp_signature, sizeof xmp_signature, metadata->xmp, metadata->xmp_length);
    if (metadata->icc_length > 0) jpeg_write_icc_profile(jpeg, metadata->icc, (unsigned int)metadata->icc_length);
}

ccodecs_status ccodecs_jpeg_write(const char *path, const uint8_t *pixels, int32_t width,
                                  int32_t height, int32_t channels, int32_t quality,
                                  const ccodecs_metadata *metadata, char *message, size_t capacity) {
    if (metadata != NULL && !metadata_fits(metadata, message, capacity)) return CCODECS_ERROR_WRITE;
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        snprintf(message, capacity, "invalid image layout");
        return CCODECS_ERROR_WRITE;
    }
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        snprintf(message, capacity, "%s", strerror(errno));
        return CCODECS_ERROR_IO;
    }
    ccodecs_jump jump;
    memset(&jump, 0, sizeof jump);
    ccodecs_jpeg_errors errors;
    struct jpeg_compress_struct jpeg;
    memset(&jpeg, 0, sizeof jpeg);
    jpeg.err = &errors.manager;
    install_errors(&errors, &jump);
    if (setjmp(jump.buffer)) {
        ccodecs_copy_message(&jump, "cannot encode", message, capacity);
        jpeg_destroy_compress(&jpeg);
        fclose(file);
        return CCODECS_ERROR_WRITE;
    }
    jpeg_create_compress(&jpeg);
    jpeg_stdio_dest(&jpeg, file);
    jpeg.image_width = (JDIMENSION)width;
    jpeg.image_height = (JDIMENSION)height;
    jpeg.input_components = channels;
    jpeg.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&jpeg);
    jpeg_set_quality(&jpeg, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&jpeg, TRUE);
    if (metadata != NULL) write_metadata(&jpeg, metadata);
    size_t row_bytes = (size_t)width * (size_t)channels;
    while (jpeg.next_scanline < jpeg.image_height) {
        /* libjpeg takes non-const rows but never writes to them. */
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)jpeg.next_scanline * row_bytes);
        jpeg_write_scanlines(&jpeg, &row, 1);
    }
    jpeg_finish_compress(&jpeg);
    jpeg_destroy_compress(&jpeg);
    if (fclose(file) != 0) {
        snprintf(message, capacity, "%s", strerror(errno));
        return CCODECS_ERROR_WRITE;
    }
    return CCODECS_OK;
}
