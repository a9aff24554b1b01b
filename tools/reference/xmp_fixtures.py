"""Photos carrying an XMP packet, for carrying an input's XMP to outputs (Tests/Fixtures/codecs/xmp_*).

One packet, as a photo editor leaves it (title, creator, rights, keywords, rating, city, the
camera's DigitalSourceType, a thumbnail, tiff:Orientation 6 and the pixel dimensions), on an 8x6
picture, where each format keeps XMP (XMP specification part 3), written by Pillow: PNG's iTXt
`XML:com.adobe.xmp`, JPEG's APP1 `http://ns.adobe.com/xap/1.0/`, WebP's `XMP ` chunk, TIFF's
tag 700; and HEIC by heif-enc (Debian's libheif-examples) from the JPEG, which copies its XMP
into an `application/rdf+xml` item. The JPEG and the WebP also carry EXIF Orientation 6, so
their pixels are turned on reading; the PNG and the TIFF carry none, so theirs are not.

Deterministic: run `python tools/reference/xmp_fixtures.py` from the package root (heif-enc's
output is not checked byte for byte: the tests read the committed file).
"""
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "codecs"
WIDTH, HEIGHT = 8, 6

PACKET = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmp:CreatorTool="Adobe Photoshop Lightroom Classic 13.0"
    xmp:Rating="4"
    photoshop:City="Brest"
    tiff:Orientation="6"
    exif:PixelXDimension="8"
    exif:PixelYDimension="6"
    Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Le phare</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>Anne Photographe</rdf:li></rdf:Seq></dc:creator>
   <dc:rights><rdf:Alt><rdf:li xml:lang="x-default">\u00a9 2024 Anne Photographe</rdf:li></rdf:Alt></dc:rights>
   <dc:subject><rdf:Bag><rdf:li>lighthouse</rdf:li><rdf:li>coast</rdf:li></rdf:Bag></dc:subject>
   <xmp:Thumbnails>
    <rdf:Alt>
     <rdf:li rdf:parseType="Resource">
      <xmpGImg:format>JPEG</xmpGImg:format>
      <xmpGImg:width>8</xmpGImg:width>
      <xmpGImg:height>6</xmpGImg:height>
      <xmpGImg:image>/9j/4AAQSkZJRgABAQAAAQABAAD/2Q==</xmpGImg:image>
     </rdf:li>
    </rdf:Alt>
   </xmp:Thumbnails>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def exif_orientation_6():
    exif = Image.Exif()
    exif[0x010F] = "Overpaint Test Camera"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show
    return exif.tobytes()


def main():
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    picture = Image.fromarray(np.stack([x * 30, y * 40, 255 - x * 20], axis=-1).astype(np.uint8))
    xmp = PACKET.encode("utf-8")
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", PACKET, lang="", tkey="", zip=False)
    picture.save(OUT / "xmp_camera.png", pnginfo=info)
    picture.save(OUT / "xmp_camera.jpg", quality=95, xmp=xmp, exif=exif_orientation_6())
    picture.save(OUT / "xmp_camera.webp", lossless=True, xmp=xmp, exif=exif_orientation_6())
    picture.save(OUT / "xmp_camera.tif", tiffinfo={700: xmp})
    subprocess.run(["heif-enc", "-q", "90", "-o", str(OUT / "xmp_camera.heic"), str(OUT / "xmp_camera.jpg")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
