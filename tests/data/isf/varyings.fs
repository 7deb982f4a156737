/*{
    "ISFVSN": "2",
    "DESCRIPTION": "A .vs/.fs pair passing an array and a matrix (hypna test file)",
    "CATEGORIES": ["Filter"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "radius", "TYPE": "float", "DEFAULT": 2.0, "MIN": 0.0, "MAX": 8.0}
    ]
}*/

#if __VERSION__ <= 120
varying vec2 offsets[3];
varying mat2 spin;
#else
in vec2 offsets[3];
in mat2 spin;
#endif

void main() {
    vec4 sum = IMG_NORM_PIXEL(inputImage, offsets[0])
        + IMG_NORM_PIXEL(inputImage, offsets[1])
        + IMG_NORM_PIXEL(inputImage, offsets[2]);
    vec2 turned = spin * (isf_FragNormCoord - 0.5) + 0.5;
    gl_FragColor = mix(sum / 3.0, IMG_NORM_PIXEL(inputImage, turned), 0.5);
}
