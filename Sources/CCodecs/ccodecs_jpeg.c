#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ccodecs_internal.h"

static void jpeg_fail(j_common_ptr info) {
    ccodecs_jpeg_errors *errors = (ccodecs_jpeg_errors *)info->err;
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

static void find_exif(ccodecs_decoder *decoder) {
    static const uint8_t signature[6] = {'E', 'x', 'i', 'f', 0, 0};
    for (jpeg_saved_marker_ptr marker = decoder->jpeg.marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1 && marker->data_length > sizeof signature &&
            memcmp(marker->data, signature, sizeof signature) == 0) {
            decoder->exif = marker->data + sizeof signature;
            decoder->exif_length = marker->data_length - sizeof signature;
            return;
        }
    }
}

ccodecs_status ccodecs_jpeg_open(ccodecs_decoder *decoder, const char *path) {
    decoder->file = fopen(path, "rb");
    if (decoder->file == NULL) {
        ccodecs_note(&decoder->jump, "%s", strerror(errno));
        return CCODECS_ERROR_IO;
    }
    struct jpeg_decompress_struct *jpeg = &decoder->jpeg;
    jpeg->err = &decoder->jpeg_errors.manager;
    install_errors(&decoder->jpeg_errors, &decoder->jump);
    if (setjmp(decoder->jump.buffer)) return CCODECS_ERROR_CORRUPT;

    jpeg_create_decompress(jpeg);
    decoder->jpeg_created = 1;
    jpeg_stdio_src(jpeg, decoder->file);
    jpeg_save_markers(jpeg, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(jpeg, TRUE);

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
    decoder->info.width = (int32_t)jpeg->image_width;
    decoder->info.height = (int32_t)jpeg->image_height;
    decoder->info.bit_depth = 8;
    find_exif(decoder);
    return CCODECS_OK;
}

ccodecs_status ccodecs_jpeg_read(ccodecs_decoder *decoder, void *pixels) {
    struct jpeg_decompress_struct *jpeg = &decoder->jpeg;
    if (setjmp(decoder->jump.buffer)) return CCODECS_ERROR_CORRUPT;
    jpeg_start_decompress(jpeg);
    if ((int32_t)jpeg->output_components != decoder->info.channels ||
        (int32_t)jpeg->output_width != decoder->info.width ||
        (int32_t)jpeg->output_height != decoder->info.height) {
        ccodecs_note(&decoder->jump, "unexpected output layout");
        return CCODECS_ERROR_CORRUPT;
    }
    size_t row_bytes = (size_t)decoder->info.width * (size_t)decoder->info.channels;
    while (jpeg->output_scanline < jpeg->output_height) {
        JSAMPROW row = (JSAMPROW)pixels + (size_t)jpeg->output_scanline * row_bytes;
        jpeg_read_scanlines(jpeg, &row, 1);
    }
    return CCODECS_OK;
}

void ccodecs_jpeg_close(ccodecs_decoder *decoder) {
    if (decoder->jpeg_created) jpeg_destroy_decompress(&decoder->jpeg);
}

ccodecs_status ccodecs_jpeg_write(const char *path, const uint8_t *pixels, int32_t width,
                                  int32_t height, int32_t channels, int32_t quality,
                                  char *message, size_t capacity) {
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
