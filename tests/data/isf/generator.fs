/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Every non-image input type and every built-in uniform (hypna test file)",
    "CREDIT": "hypna tests",
    "CATEGORIES": ["Generator"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Speed"},
        {"NAME": "invert", "TYPE": "bool", "DEFAULT": false},
        {"NAME": "flash", "TYPE": "event"},
        {"NAME": "shape", "TYPE": "long", "VALUES": [0, 1, 2], "LABELS": ["Rings", "Stripes", "Dots"], "DEFAULT": 0},
        {"NAME": "centre", "TYPE": "point2D", "DEFAULT": [0.5, 0.5], "MIN": [0.0, 0.0], "MAX": [1.0, 1.0]},
        {"NAME": "tint", "TYPE": "color", "DEFAULT": [1.0, 0.6, 0.2, 1.0]}
    ]
}*/

float pattern(vec2 p, int kind) {
    float r = length(p);
    if (kind == 0) return 0.5 + 0.5 * sin(r * 40.0 - TIME * speed * 4.0);
    if (kind == 1) return step(0.5, fract(p.x * 10.0 + TIME * speed));
    return step(length(fract(p * 8.0) - 0.5), 0.3);
}

void main() {
    vec2 p = isf_FragNormCoord - centre;
    p.x *= RENDERSIZE.x / RENDERSIZE.y;
    float v = pattern(p, shape);
    // gl_FragCoord is in pixels, y up: a band at the bottom edge.
    if (gl_FragCoord.y < 2.0) v = 1.0;
    if (invert) v = 1.0 - v;
    vec3 c = tint.rgb * v;
    if (flash) c = vec3(1.0);
    // The date and frame counters only nudge the colour: they must exist.
    c += 0.0001 * (fract(DATE.w) + DATE.z + float(FRAMEINDEX % 16) + TIMEDELTA + float(PASSINDEX));
    gl_FragColor = vec4(c, tint.a);
}
