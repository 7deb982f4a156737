/*{
    "DESCRIPTION": "ISF 1 style: no ISFVSN, vv_FragNormCoord, GLSL 1.10 idioms (hypna test file)",
    "CATEGORIES": ["Generator"],
    "INPUTS": [
        {"NAME": "count", "TYPE": "long", "MIN": 1, "MAX": 6, "DEFAULT": 3}
    ]
}*/

#ifdef GL_ES
precision mediump float;
#endif

const float weights[3] = float[3](0.2, 0.5, 0.3);

vec3 hue(float h) {
    return clamp(abs(mod(h * 6.0 + vec3(0.0, 4.0, 2.0), 6.0) - 3.0) - 1.0, 0.0, 1.0);
}

void main() {
    vec2 p = vv_FragNormCoord * 2.0 - 1.0;
    float a = atan(p.y, p.x);
    float v = 0.0;
    for (int i = 0; i < 3; i++) {
        v += weights[i] * sin(a * float(count) + TIME * float(i + 1));
    }
    gl_FragColor = vec4(hue(v * 0.5 + 0.5), 1.0);
}
